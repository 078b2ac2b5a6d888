/*
 * nir.c -- NIR form and control key (see nir.h).
 *
 * The canonical form is built in a local array and copied out only once
 * every check passed; the local copy is personal data and is wiped before
 * returning, so no NIR lingers on the stack.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "err.h"
#include "nir.h"

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Value of the two digits at |p|; both must be digits. */
static int
two_digits(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

int
nir_key_compute(const char *first13)
{
    char d[13];
    uint64_t n = 0;
    int i;

    for (i = 0; i < 13 && first13[i] != '\0'; i++)
        d[i] = first13[i];
    if (i < 13)
        return ERR_INVALID;
    /* Corsica: 2A counts as 19, 2B as 18. */
    if (d[5] == '2' && (d[6] == 'A' || d[6] == 'a')) {
        d[5] = '1';
        d[6] = '9';
    } else if (d[5] == '2' && (d[6] == 'B' || d[6] == 'b')) {
        d[5] = '1';
        d[6] = '8';
    }
    for (i = 0; i < 13; i++) {
        if (!is_digit(d[i])) {
            n = 0;
            break;
        }
        n = n * 10 + (uint64_t)(d[i] - '0');
    }
    OPENSSL_cleanse(d, sizeof(d));
    if (i < 13)
        return ERR_INVALID;
    return (int)(97 - n % 97);
}

static int
nir_check(const char nir[NIR_LEN], const char **why)
{
    int month, key;

    if (!(nir[0] == '1' || nir[0] == '2' || nir[0] == '3' || nir[0] == '4' ||
          nir[0] == '7' || nir[0] == '8')) {
        *why = "NIR must start with 1, 2, 3, 4, 7 or 8 (sex)";
        return ERR_INVALID;
    }
    if (!is_digit(nir[1]) || !is_digit(nir[2])) {
        *why = "NIR year of birth must be two digits";
        return ERR_INVALID;
    }
    if (!is_digit(nir[3]) || !is_digit(nir[4])) {
        *why = "NIR month is invalid";
        return ERR_INVALID;
    }
    month = two_digits(nir + 3);
    if (!((month >= 1 && month <= 12) || (month >= 20 && month <= 42) ||
          (month >= 50 && month <= 99))) {
        *why = "NIR month is invalid";
        return ERR_INVALID;
    }
    if (!((is_digit(nir[5]) && is_digit(nir[6])) ||
          (nir[5] == '2' && (nir[6] == 'A' || nir[6] == 'B')))) {
        *why = "NIR department must be two digits, 2A or 2B";
        return ERR_INVALID;
    }
    for (int i = 7; i < 10; i++)
        if (!is_digit(nir[i])) {
            *why = "NIR commune must be three digits";
            return ERR_INVALID;
        }
    for (int i = 10; i < 13; i++)
        if (!is_digit(nir[i])) {
            *why = "NIR order number must be three digits";
            return ERR_INVALID;
        }
    if (!is_digit(nir[13]) || !is_digit(nir[14])) {
        *why = "NIR control key must be two digits";
        return ERR_INVALID;
    }
    key = two_digits(nir + 13);
    if (key < 1 || key > 97) {
        *why = "NIR control key must be between 01 and 97";
        return ERR_INVALID;
    }
    if (nir_key_compute(nir) != key) {
        *why = "NIR control key does not match";
        return ERR_INVALID;
    }
    return 0;
}

int
nir_normalize(const char *in, char out[NIR_STR], const char **why)
{
    char tmp[NIR_LEN];
    const char *reason = NULL;
    size_t n = 0;
    int rc;

    if (out != NULL)
        out[0] = '\0';
    for (; *in != '\0'; in++) {
        if (*in == ' ')
            continue;
        if (n == NIR_LEN) {
            reason = "NIR must have 15 characters";
            rc = ERR_INVALID;
            goto done;
        }
        tmp[n++] = *in;
    }
    if (n != NIR_LEN) {
        reason = "NIR must have 15 characters";
        rc = ERR_INVALID;
        goto done;
    }
    /* Corsica's letter is accepted in either case; the canonical form has
     * it uppercase so that one person has one hash. */
    if (tmp[5] == '2' && (tmp[6] == 'a' || tmp[6] == 'b'))
        tmp[6] = (char)(tmp[6] - 'a' + 'A');
    if ((rc = nir_check(tmp, &reason)) != 0)
        goto done;
    if (out != NULL) {
        memcpy(out, tmp, NIR_LEN);
        out[NIR_LEN] = '\0';
    }

done:
    OPENSSL_cleanse(tmp, sizeof(tmp));
    if (rc != 0 && why != NULL)
        *why = reason;
    return rc;
}
