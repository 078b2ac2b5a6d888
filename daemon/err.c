/*
 * err.c -- names for the project's error codes (see err.h).
 */
#include <string.h>

#include "err.h"

static const char *const err_names[] = {
    [ERR_INVALID - ERR_BASE] = "invalid argument",
    [ERR_NOTFOUND - ERR_BASE] = "not found",
    [ERR_EXISTS - ERR_BASE] = "already exists",
    [ERR_DENIED - ERR_BASE] = "permission denied",
    [ERR_CORRUPT - ERR_BASE] = "stored data failed authentication",
    [ERR_TOOBIG - ERR_BASE] = "over the configured limit",
    [ERR_FULL - ERR_BASE] = "store full",
    [ERR_EXPIRED - ERR_BASE] = "expired",
    [ERR_TLS - ERR_BASE] = "TLS failure",
    [ERR_PROTO - ERR_BASE] = "protocol violation",
    [ERR_COMPRESSED - ERR_BASE] = "compressed message not supported",
    [ERR_UNAVAILABLE - ERR_BASE] = "unavailable",
    [ERR_KEY - ERR_BASE] = "unusable key material",
    [ERR_CONFIG - ERR_BASE] = "bad configuration",
};

const char *
err_str(int err)
{
    if (err == 0)
        return "success";
    if (err > ERR_BASE && err < ERR_LAST) {
        const char *s = err_names[err - ERR_BASE];
        return s != NULL ? s : "unknown error";
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}
