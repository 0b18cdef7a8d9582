/* A static test program for the sandbox tests: it asks the kernel for what a RUN must
 * not be able to do and prints one line per question, "NAME: ok" or "NAME: ERRNO-NAME".
 *
 *   probe keyadd DESC PROGRAM ARGS...  join a new session keyring (so that nothing is left
 *                                      in the caller's), add a "user" key DESC to it, exec
 *   probe keyfind DESC                 search the session keyring for DESC
 *   probe tty                          open /dev/tty, then TIOCSTI a space into it
 *   probe syscalls                     mount, unshare, clone3, AF_VSOCK, personality, keyctl
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEY_SPEC_SESSION_KEYRING -3
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SEARCH 10

static const char *name(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case ENXIO: return "ENXIO";
    case ENOKEY: return "ENOKEY";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOTTY: return "ENOTTY";
    case EIO: return "EIO";
    default: return strerror(e);
    }
}

static void say(const char *what, long rc) {
    if (rc >= 0)
        printf("%s: ok\n", what);
    else
        printf("%s: %s\n", what, name(errno));
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "keyadd") == 0) {
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "builder-test") < 0) {
            perror("keyctl join");
            return 1;
        }
        long id = syscall(SYS_add_key, "user", argv[2], "secret", 6, KEY_SPEC_SESSION_KEYRING);
        if (id < 0) {
            perror("add_key");
            return 1;
        }
        execvp(argv[3], argv + 3);
        perror("exec");
        return 127;
    }
    if (argc == 3 && strcmp(argv[1], "keyfind") == 0) {
        say("keyfind", syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user",
                               argv[2], 0));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "tty") == 0) {
        int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
        say("open /dev/tty", fd);
        if (fd >= 0) {
            char c = ' ';
            say("TIOCSTI", ioctl(fd, TIOCSTI, &c));
        }
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "syscalls") == 0) {
        say("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
        say("unshare", unshare(CLONE_NEWUSER | CLONE_NEWNS));
        say("clone3", syscall(SYS_clone3, NULL, 0));
        say("socket AF_VSOCK", socket(40, SOCK_STREAM, 0));
        say("personality query", personality(0xffffffff));
        say("personality ADDR_NO_RANDOMIZE", personality(ADDR_NO_RANDOMIZE));
        say("keyctl", syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user",
                              "none", 0));
        return 0;
    }
    fprintf(stderr, "usage: probe keyadd DESC PROGRAM... | keyfind DESC | tty | syscalls\n");
    return 2;
}
