/*
 * test_notify.c -- unit tests of notify.c: the datagrams a service
 * manager receives on a path socket and on an abstract one, the no-op
 * without NOTIFY_SOCKET, and the refusal of an address of another kind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "suites.h"
#include "testutil.h"

/* Binds a datagram socket at |name| ("@x": abstract) and returns it. */
static int
bind_dgram(const char *name)
{
    struct sockaddr_un sun;
    socklen_t alen;
    size_t n = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, name, n);
    if (name[0] == '@')
        sun.sun_path[0] = '\0';
    alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                       (name[0] == '@' ? 0 : 1));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, alen), 0);
    return fd;
}

static void
recv_text(int fd, char *out, size_t size)
{
    ssize_t n = recv(fd, out, size - 1, MSG_DONTWAIT);

    ck_assert_int_gt(n, 0);
    out[n] = '\0';
}

START_TEST(test_notify_path_socket)
{
    char dir[128], path[192], got[256];
    int fd;

    testutil_mkdtemp(dir, sizeof(dir), NULL, "dossier-notify");
    snprintf(path, sizeof(path), "%s/notify", dir);
    fd = bind_dgram(path);
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(notify_send("READY=1"), 0);
    recv_text(fd, got, sizeof(got));
    ck_assert_str_eq(got, "READY=1");
    notify_ready("serving on 127.0.0.1 port 7443");
    recv_text(fd, got, sizeof(got));
    ck_assert_str_eq(got, "READY=1\nSTATUS=serving on 127.0.0.1 port 7443");
    notify_reloading();
    recv_text(fd, got, sizeof(got));
    ck_assert_msg(strncmp(got, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0 &&
                      strlen(got) > 27,
                  "got %s", got);
    notify_stopping();
    recv_text(fd, got, sizeof(got));
    ck_assert_ptr_nonnull(strstr(got, "STOPPING=1"));
    unsetenv("NOTIFY_SOCKET");
    close(fd);
    testutil_rmtree(dir);
}
END_TEST

START_TEST(test_notify_abstract_socket)
{
    char name[64], got[64];
    int fd;

    snprintf(name, sizeof(name), "@dossier-notify-test-%d", (int)getpid());
    fd = bind_dgram(name);
    setenv("NOTIFY_SOCKET", name, 1);
    ck_assert_int_eq(notify_send("STOPPING=1"), 0);
    recv_text(fd, got, sizeof(got));
    ck_assert_str_eq(got, "STOPPING=1");
    unsetenv("NOTIFY_SOCKET");
    close(fd);
}
END_TEST

START_TEST(test_notify_absent_or_bad)
{
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(notify_send("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    ck_assert_int_eq(notify_send("READY=1"), -EINVAL);
    setenv("NOTIFY_SOCKET", "/nonexistent/dossier-notify", 1);
    ck_assert_int_eq(notify_send("READY=1"), -ENOENT);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

Suite *
suite_notify(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("sd_notify");

    tcase_add_test(tc, test_notify_path_socket);
    tcase_add_test(tc, test_notify_abstract_socket);
    tcase_add_test(tc, test_notify_absent_or_bad);
    suite_add_tcase(s, tc);
    return s;
}
