/* Tries to reach another process from inside a RUN step: `ptrace_probe PID` attaches to
 * PID and to its own parent with ptrace(2), and reads PID's memory with
 * process_vm_readv(2); prints what each gave. Built static, so that it runs on busybox. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static void attach(const char *who, pid_t pid) {
    if (ptrace(PTRACE_ATTACH, pid, 0, 0) == 0) {
        printf("ptrace %s: attached\n", who);
        ptrace(PTRACE_DETACH, pid, 0, 0);
    } else {
        printf("ptrace %s: %s\n", who, strerror(errno));
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pid_t pid = (pid_t)atoi(argv[1]);
    attach("other", pid);
    attach("parent", getppid());
    char buf[8];
    struct iovec local = {buf, sizeof buf}, remote = {(void *)0x400000, sizeof buf};
    if (process_vm_readv(pid, &local, 1, &remote, 1, 0) >= 0)
        printf("process_vm_readv: read\n");
    else
        printf("process_vm_readv: %s\n", strerror(errno));
    return 0;
}
