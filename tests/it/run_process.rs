//! How a RUN command runs, as BuildKit runs it, built as root and as a non-root user: USER
//! by uid, uid:gid and name (files it creates are its own), WORKDIR (created when missing),
//! ENV PATH, SHELL, shell and exec forms, heredoc scripts, the network modes (the default
//! network's isolation is `run_network.rs`), build args in the command's environment only,
//! and the command as pid 1.

use crate::build_support::busybox;
use crate::run_image::{owners_when_root, under};
use crate::run_support::{runners, RunWork};

#[test]
fn run_as_users_by_uid_uid_gid_and_name() {
    let test = "run_as_users";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN id -u > /tmp/as-root\n\
             USER 1000\n\
             RUN id -u > /tmp/as-1000 && id -g >> /tmp/as-1000 && touch /tmp/by-1000\n\
             USER user\n\
             RUN id -un > /tmp/as-user && id -u >> /tmp/as-user && id -g >> /tmp/as-user\n\
             USER 2000\n\
             RUN id -u > /tmp/as-2000 && id -g >> /tmp/as-2000\n\
             USER 1000:50\n\
             RUN id -u > /tmp/as-1000-50 && id -g >> /tmp/as-1000-50\n\
             USER root\n\
             RUN touch /tmp/root-again\n",
        );
        let img = w.build_image(&[]);
        assert_eq!(img.layer_count(), 7, "as {}", r.name());
        assert_eq!(
            img.layer(2),
            "d tmp 1777 0:0\n\
             f tmp/as-1000 0644 1000:1000 \"1000\\n1000\\n\"\n\
             f tmp/by-1000 0644 1000:1000 \"\"\n",
            "as {}: USER 1000's layer",
            r.name()
        );
        // A uid found in /etc/passwd takes its group; one not found gets group 0; uid:gid
        // is taken as given (runc's GetExecUser, as BuildKit uses it).
        let want = r#"d /tmp 1777 0:0
f /tmp/as-1000 0644 1000:1000 "1000\n1000\n"
f /tmp/as-1000-50 0644 1000:50 "1000\n50\n"
f /tmp/as-2000 0644 2000:0 "2000\n0\n"
f /tmp/as-root 0644 0:0 "0\n"
f /tmp/as-user 0644 1000:1000 "user\n1000\n1000\n"
f /tmp/by-1000 0644 1000:1000 ""
f /tmp/root-again 0644 0:0 ""
"#;
        let tree = img.tree(&w.path("out/bundle"));
        assert_eq!(
            under(&tree, "/tmp"),
            owners_when_root(want),
            "as {}",
            r.name()
        );
        assert_eq!(img.config["config"]["User"], "root", "as {}", r.name());
    }
}

#[test]
fn run_uses_workdir_env_path_shell_and_exec_forms() {
    let test = "run_workdir_env_shell";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            r#"FROM busybox
WORKDIR /work/dir
RUN pwd > /tmp/pwd && echo rel > relative
RUN mkdir /custom && printf '#!/bin/sh\necho found-in-custom\n' > /custom/mytool && chmod 0755 /custom/mytool
ENV PATH=/custom:$PATH
RUN mytool > /tmp/mytool.out
RUN false; echo "$-" > /tmp/default-flags
SHELL ["/bin/sh", "-ec"]
RUN echo "$-" > /tmp/shell-flags
RUN ["/bin/touch", "/tmp/$NOEXPAND"]
RUN ["sh", "-c", "echo exec-form > /tmp/exec-form"]
RUN cp /work/dir/relative /tmp/relative && rm -rf /work
RUN pwd > /tmp/pwd-again
"#,
        );
        let img = w.build_image(&[]);
        let who = r.name();
        assert_eq!(
            img.read("tmp/pwd").as_deref(),
            Some("/work/dir\n"),
            "as {who}"
        );
        assert_eq!(
            img.read("tmp/relative").as_deref(),
            Some("rel\n"),
            "as {who}"
        );
        assert_eq!(
            img.read("tmp/mytool.out").as_deref(),
            Some("found-in-custom\n"),
            "as {who}: a script in /custom found through ENV PATH"
        );
        // The default shell is `/bin/sh -c` (no -e: `false;` goes on); SHELL replaces it.
        let flags = img.read("tmp/default-flags").unwrap_or_default();
        assert!(
            flags.contains('c') && !flags.contains('e'),
            "as {who}: {flags:?}"
        );
        let flags = img.read("tmp/shell-flags").unwrap_or_default();
        assert!(flags.contains('e'), "as {who}: SHELL -ec gave {flags:?}");
        // Exec form: no shell, so no expansion; the program is found on PATH.
        assert_eq!(img.read("tmp/$NOEXPAND").as_deref(), Some(""), "as {who}");
        assert_eq!(
            img.read("tmp/exec-form").as_deref(),
            Some("exec-form\n"),
            "as {who}"
        );
        // A working directory a step removed is created again for the next RUN.
        assert_eq!(
            img.read("tmp/pwd-again").as_deref(),
            Some("/work/dir\n"),
            "as {who}"
        );
        assert_eq!(
            img.last_layer(),
            "d tmp 1777 0:0\n\
             f tmp/pwd-again 0644 0:0 \"/work/dir\\n\"\n\
             d work 0755 0:0\n\
             d work/dir 0755 0:0\n",
            "as {who}: the last RUN's layer"
        );
        assert_eq!(
            img.layer(img.layer_count() - 2),
            "wh .wh.work\n\
             d tmp 1777 0:0\n\
             f tmp/relative 0644 0:0 \"rel\\n\"\n",
            "as {who}: cp and rm -rf /work"
        );

        let path = "PATH=/custom:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        assert!(
            img.env().iter().any(|e| e == path),
            "as {who}: {:?}",
            img.env()
        );
        assert_eq!(img.config["config"]["WorkingDir"], "/work/dir", "as {who}");
        assert_eq!(
            img.config["config"]["Shell"],
            serde_json::json!(["/bin/sh", "-ec"]),
            "as {who}"
        );
        let history = img.history();
        for line in [
            "RUN /bin/sh -c pwd > /tmp/pwd && echo rel > relative # buildkit",
            "RUN /bin/sh -ec echo \"$-\" > /tmp/shell-flags # buildkit",
            "RUN /bin/touch /tmp/$NOEXPAND # buildkit",
        ] {
            assert!(
                history.iter().any(|h| h == line),
                "as {who}: no history entry {line:?} in {history:#?}"
            );
        }
    }
}

#[test]
fn heredoc_runs_run_as_scripts() {
    let test = "run_heredocs";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN <<EOF\n\
             echo one > /tmp/heredoc\n\
             echo two >> /tmp/heredoc\n\
             EOF\n\
             RUN <<EOF sh\n\
             echo stdin >> /tmp/heredoc\n\
             EOF\n\
             RUN cat <<A > /tmp/cat && cat <<-B >> /tmp/cat\n\
             first\n\
             A\n\
             \tsecond\n\
             \tB\n\
             RUN <<EOF\n\
             #!/bin/busybox sh\n\
             echo shebang >> /tmp/heredoc\n\
             EOF\n",
        );
        let img = w.build_image(&[]);
        assert_eq!(
            img.read("tmp/heredoc").as_deref(),
            Some("one\ntwo\nstdin\nshebang\n"),
            "as {}",
            r.name()
        );
        assert_eq!(
            img.read("tmp/cat").as_deref(),
            Some("first\nsecond\n"),
            "as {}",
            r.name()
        );
        // The script file of a shebang heredoc is mounted for the step, never committed.
        assert_eq!(
            img.last_layer(),
            "d tmp 1777 0:0\n\
             f tmp/heredoc 0644 0:0 \"one\\ntwo\\nstdin\\nshebang\\n\"\n",
            "as {}",
            r.name()
        );
    }
}

/// The interface names in a copy of /proc/net/dev.
fn interfaces(netdev: &str) -> Vec<String> {
    let mut names: Vec<String> = netdev
        .lines()
        .skip(2)
        .filter_map(|l| Some(l.split_once(':')?.0.trim().to_string()))
        .collect();
    names.sort();
    names
}

#[test]
fn network_none_shows_only_loopback_and_default_is_private() {
    let test = "run_network";
    let Some(layout) = busybox(test) else { return };
    let host = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
    let stack = std::path::Path::new("/usr/bin/slirp4netns").is_file();
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN --network=none cat /proc/net/dev > /tmp/none\n\
             RUN cat /proc/net/dev > /tmp/default\n\
             RUN --network=host cat /proc/net/dev > /tmp/host\n\
             RUN cat /etc/hosts > /tmp/hosts-seen && test -e /etc/resolv.conf\n",
        );
        let img = w.build_image(&[]);
        let who = r.name();
        let read = |p: &str| interfaces(&img.read(p).unwrap_or_default());
        assert_eq!(read("tmp/none"), ["lo"], "as {who}");
        if stack {
            // The build's private network: lo and the stack's eth0.
            assert_eq!(read("tmp/default"), ["eth0", "lo"], "as {who}");
        } else {
            assert_eq!(
                read("tmp/default"),
                host,
                "as {who}: the fallback is the host's"
            );
        }
        assert_eq!(read("tmp/host"), host, "as {who}");
        let hosts = img.read("tmp/hosts-seen").unwrap_or_default();
        assert!(
            hosts.contains("localhost"),
            "as {who}: /etc/hosts {hosts:?}"
        );
        assert_eq!(
            img.read("etc/hosts"),
            None,
            "as {who}: a stub was committed"
        );
        assert_eq!(
            img.read("etc/resolv.conf"),
            None,
            "as {who}: a stub was committed"
        );

        // --network none for the whole build.
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN cat /proc/net/dev > /tmp/none\n",
        );
        let img = w.build_image(&["--network", "none"]);
        assert_eq!(
            interfaces(&img.read("tmp/none").unwrap_or_default()),
            ["lo"],
            "as {who}: --network none"
        );
    }
}

#[test]
fn build_args_reach_run_but_not_the_image_config() {
    let test = "run_build_args";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             ARG FOO=default\n\
             ARG UNSET\n\
             RUN echo \"foo=$FOO unset=${UNSET-none}\" > /tmp/arg\n",
        );
        let img = w.build_image(&["--build-arg", "FOO=given"]);
        assert_eq!(
            img.read("tmp/arg").as_deref(),
            Some("foo=given unset=none\n"),
            "as {who}"
        );
        let env = img.env();
        assert!(
            !env.iter()
                .any(|e| e.starts_with("FOO=") || e.starts_with("UNSET")),
            "as {who}: build args leaked into the config: {env:?}"
        );
        // BuildKit records the args a RUN saw in its history line.
        let history = img.history();
        let want = "RUN |2 FOO=given UNSET= /bin/sh -c echo \"foo=$FOO unset=${UNSET-none}\" > /tmp/arg # buildkit";
        assert_eq!(history.last().map(String::as_str), Some(want), "as {who}");

        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             ARG FOO=default\n\
             RUN echo \"foo=$FOO\" > /tmp/arg\n",
        );
        let img = w.build_image(&[]);
        assert_eq!(
            img.read("tmp/arg").as_deref(),
            Some("foo=default\n"),
            "as {who}"
        );
    }
}

#[test]
fn the_command_is_pid_one_and_survives_its_own_sigkill() {
    let test = "run_pid_one";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        // As under runc: the shell is pid 1 of a new pid namespace, so a signal it sends
        // itself without a handler is dropped and the step goes on.
        w.dockerfile(
            "FROM busybox\n\
             RUN echo $$ > /tmp/pid && kill -9 $$; echo survived > /tmp/survived\n",
        );
        let img = w.build_image(&[]);
        assert_eq!(
            img.read("tmp/pid").as_deref(),
            Some("1\n"),
            "as {}",
            r.name()
        );
        assert_eq!(
            img.read("tmp/survived").as_deref(),
            Some("survived\n"),
            "as {}",
            r.name()
        );
    }
}
