/* Runs a command the way a container runtime's defaults confine it:
 *   no_unshare PROGRAM ARGS...           a seccomp filter refuses unshare(2) with EPERM
 *   no_unshare --docker PROGRAM ARGS...  also mount(2) and keyctl(2), as Docker's default
 *                                        profile does for a process without CAP_SYS_ADMIN,
 *                                        and only Docker's 14 default capabilities are kept
 *                                        (bounding, permitted, effective, inheritable). */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DENY(nr)                                                        \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                    \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

static const int docker_caps[] = {
    CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER, CAP_MKNOD,
    CAP_NET_RAW, CAP_SETGID,      CAP_SETUID,           CAP_SETFCAP, CAP_SETPCAP,
    CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,     CAP_AUDIT_WRITE,
};

static int keep_docker_caps(void) {
    unsigned long long keep = 0;
    for (size_t i = 0; i < sizeof docker_caps / sizeof docker_caps[0]; i++)
        keep |= 1ULL << docker_caps[i];
    for (int cap = 0; cap < 64; cap++) {
        if (keep & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return -1;
    }
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; i++) {
        data[i].effective = data[i].permitted = data[i].inheritable = (unsigned)(keep >> (32 * i));
    }
    return (int)syscall(SYS_capset, &header, data);
}

int main(int argc, char **argv) {
    struct sock_filter unshare_only[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        DENY(__NR_unshare),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_filter docker[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        DENY(__NR_unshare),
        DENY(__NR_mount),
        DENY(__NR_keyctl),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof unshare_only / sizeof unshare_only[0], unshare_only};
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--docker") == 0) {
        prog.len = sizeof docker / sizeof docker[0];
        prog.filter = docker;
        first = 2;
        if (keep_docker_caps() != 0) return 110;
    }
    if (argc <= first) return 2;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 111;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return 112;
    execv(argv[first], argv + first);
    return 113;
}
