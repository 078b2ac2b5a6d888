/*
 * notify.c -- the sd_notify datagram (see notify.h).
 *
 * A fresh socket per message: there are three or four per run, and a
 * socket kept open would be one more descriptor to carry across reloads.
 * Failures are logged once at debug level and otherwise ignored: a
 * service manager that cannot be told is no reason to stop serving.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

int
notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    socklen_t alen;
    size_t plen;
    ssize_t n;
    int fd, rc = 0;

    if (path == NULL || path[0] == '\0')
        return 0;
    plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path))
        return -EINVAL;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, plen);
    if (path[0] == '@')
        sun.sun_path[0] = '\0'; /* abstract namespace: no NUL terminator */
    alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
                       (path[0] == '/' ? 1 : 0));
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    do
        n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
                   (struct sockaddr *)&sun, alen);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        rc = -errno;
    close(fd);
    return rc;
}

static void
notify_or_log(const char *state)
{
    int rc = notify_send(state);

    if (rc != 0)
        log_debug("service manager not notified: %s", strerror(-rc));
}

void
notify_ready(const char *what)
{
    char msg[256];

    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", what);
    notify_or_log(msg);
}

void
notify_reloading(void)
{
    struct timespec ts;
    char msg[96];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull +
                 (unsigned long long)ts.tv_nsec / 1000);
    notify_or_log(msg);
}

void
notify_stopping(void)
{
    notify_or_log("STOPPING=1\nSTATUS=draining");
}
