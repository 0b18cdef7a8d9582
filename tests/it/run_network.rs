//! The default network of RUN, built as root and as a non-root user: a private network
//! namespace with a route out through the build's user-mode stack (slirp4netns), from which
//! a server on the host's 127.0.0.1 cannot be reached (neither there nor through the
//! stack's gateway) and the host's abstract unix sockets cannot be seen; `--network=host`
//! still reaches both; without slirp4netns on `PATH` the build warns once and RUN shares
//! the host's network; the stack ends with the build, however the build ends.
//!
//! Abstract unix socket names belong to a network namespace, so a name missing from the
//! RUN's `/proc/net/unix` is a name it cannot connect to (busybox has no unix-socket
//! client); the `--network=host` RUN seeing the name shows the check can see it.

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::build_support::busybox;
use crate::common::text;
use crate::run_support::{children_of, processes_with, runners, token, wait_for, RunWork, Runner};

/// slirp4netns is installed (CI installs it); else skip loudly, or fail under
/// `BUILDER_REQUIRE_SANDBOX=1`.
fn have_stack(test: &str) -> bool {
    let found = [
        "/usr/bin/slirp4netns",
        "/bin/slirp4netns",
        "/usr/local/bin/slirp4netns",
    ]
    .iter()
    .any(|p| Path::new(p).is_file());
    if !found {
        let why = format!("{test}: slirp4netns is not installed (apt-get install slirp4netns)");
        assert!(
            std::env::var("BUILDER_REQUIRE_SANDBOX").as_deref() != Ok("1"),
            "{why}"
        );
        eprintln!("\n!!! SKIPPED {why} !!!\n");
    }
    found
}

/// What the host offers a RUN that should not reach it: a TCP server on 127.0.0.1 that
/// greets every connection with a marker (and counts them), and a bound abstract socket.
struct HostServices {
    port: u16,
    marker: String,
    abstract_name: String,
    accepted: Arc<AtomicUsize>,
    _unix: UnixListener,
}

impl HostServices {
    fn start() -> HostServices {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = tcp.local_addr().unwrap().port();
        let tok = token();
        let marker = format!("reached-host-{tok}");
        let accepted = Arc::new(AtomicUsize::new(0));
        let (count, greeting) = (Arc::clone(&accepted), format!("{marker}\n"));
        std::thread::spawn(move || {
            for conn in tcp.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let mut conn = conn;
                let _ = conn.write_all(greeting.as_bytes());
            }
        });
        let abstract_name = format!("builder-test-{tok}");
        let addr = SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
        let unix = UnixListener::bind_addr(&addr).expect("bind an abstract socket");
        HostServices {
            port,
            marker,
            abstract_name,
            accepted,
            _unix: unix,
        }
    }

    fn build_args(&self) -> [String; 2] {
        [
            format!("PORT={}", self.port),
            format!("NAME={}", self.abstract_name),
        ]
    }
}

/// A RUN that records, under `/tmp/NAME-*`, its links, its routes, what it got from the
/// host's server (through 127.0.0.1 and through its default gateway) and whether it sees
/// the host's abstract socket.
fn probe(name: &str, flag: &str) -> String {
    format!(
        "RUN {flag}ip -o link > /tmp/{name}-links; ip route > /tmp/{name}-routes; \
         gw=$(ip route | awk '/^default/ {{print $3}}'); \
         {{ nc -w 3 127.0.0.1 $PORT </dev/null; nc -w 3 $gw $PORT </dev/null; }} \
           > /tmp/{name}-reached 2>/dev/null; \
         grep -c \"@$NAME\" /proc/net/unix > /tmp/{name}-abstract; true\n"
    )
}

fn build_with(w: &RunWork, host: &HostServices, extra: &[&str]) -> crate::run_image::Image {
    let args = host.build_args();
    let mut all = vec!["--build-arg", &args[0], "--build-arg", &args[1]];
    all.extend_from_slice(extra);
    w.build_image(&all)
}

#[test]
fn default_network_is_private_and_host_network_is_the_hosts() {
    let test = "run_network_private";
    let Some(layout) = busybox(test) else { return };
    if !have_stack(test) {
        return;
    }
    for r in runners(test) {
        let who = r.name();
        let host = HostServices::start();
        let w = RunWork::new(r, &layout);
        w.dockerfile(&format!(
            "FROM busybox\nARG PORT\nARG NAME\n{}{}",
            probe("default", ""),
            probe("host", "--network=host ")
        ));
        let img = build_with(&w, &host, &[]);
        let read = |p: &str| img.read(p).unwrap_or_default();

        let links = read("tmp/default-links");
        assert!(
            links
                .lines()
                .any(|l| !l.contains(" lo: ") && l.contains(",UP")),
            "as {who}: no interface but lo is up: {links}"
        );
        let routes = read("tmp/default-routes");
        assert!(
            routes.lines().any(|l| l.starts_with("default via ")),
            "as {who}: no default route: {routes}"
        );
        assert!(
            !read("tmp/default-reached").contains(&host.marker),
            "as {who}: the default network reached the host's 127.0.0.1"
        );
        assert_eq!(
            read("tmp/default-abstract").trim(),
            "0",
            "as {who}: the default network sees the host's abstract socket"
        );

        assert!(
            read("tmp/host-reached").contains(&host.marker),
            "as {who}: --network=host did not reach the host's 127.0.0.1: {:?}",
            read("tmp/host-reached")
        );
        assert_eq!(read("tmp/host-abstract").trim(), "1", "as {who}");
        // Only the --network=host RUN connected (once: its gateway is not the server).
        assert_eq!(host.accepted.load(Ordering::SeqCst), 1, "as {who}");
    }
}

/// A directory holding only what a build needs from `PATH` (the id mapping tools, and
/// what starts the non-root user's build), owned by the runner.
fn path_without_stack(w: &RunWork) -> &'static str {
    let dir = w.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    for tool in ["newuidmap", "newgidmap", "runuser", "env"] {
        for found in ["/usr/bin", "/bin", "/usr/sbin"].map(|d| Path::new(d).join(tool)) {
            if found.is_file() {
                std::os::unix::fs::symlink(&found, dir.join(tool)).unwrap();
                break;
            }
        }
    }
    Box::leak(dir.to_string_lossy().into_owned().into_boxed_str())
}

#[test]
fn without_slirp4netns_run_shares_the_host_network_and_the_build_warns_once() {
    let test = "run_network_fallback";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let host = HostServices::start();
        let w = RunWork::new(r, &layout);
        let path = path_without_stack(&w);
        let w = w.env("PATH", path);
        w.dockerfile(&format!(
            "FROM busybox\nARG PORT\nARG NAME\n{}RUN true\n",
            probe("default", "")
        ));
        let args = host.build_args();
        let dest = w.path("out/img");
        let spec = format!("type=oci,dest={},tar=false", dest.display());
        let out = w.build(&[
            "-o",
            &spec,
            "--build-arg",
            &args[0],
            "--build-arg",
            &args[1],
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "as {who}: {err}");
        let warnings = err.matches("slirp4netns is not installed").count();
        assert_eq!(warnings, 1, "as {who}: {err}");
        assert!(
            err.contains("apt-get install slirp4netns"),
            "as {who}: {err}"
        );
        let img = crate::run_image::Image::open(&dest);
        assert!(
            img.read("tmp/default-reached")
                .unwrap_or_default()
                .contains(&host.marker),
            "as {who}: the fallback is not the host's network"
        );
    }
}

/// Processes named `name` below `pid` (children, grandchildren, ...).
fn descendants_named(pid: u32, name: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for child in children_of(p) {
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            if comm.trim() == name {
                found.push(child);
            }
            todo.push(child);
        }
    }
    found
}

/// `pid` is still a live (not zombie) process named `name`.
fn alive_as(pid: u32, name: &str) -> bool {
    let named =
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    named && !zombie
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    /// The RUN goes on and the build succeeds.
    Success,
    /// SIGINT to the builder (Ctrl-C).
    Interrupt,
    /// SIGKILL to the builder.
    Kill,
}

#[test]
fn the_stack_ends_with_the_build_however_it_ends() {
    let test = "run_network_teardown";
    let Some(layout) = busybox(test) else { return };
    if !have_stack(test) {
        return;
    }
    for r in runners(test) {
        for ending in [Ending::Success, Ending::Interrupt, Ending::Kill] {
            stack_ends(r, &layout, ending);
        }
    }
}

fn stack_ends(r: Runner, layout: &Path, ending: Ending) {
    let who = format!("{} ({ending:?})", r.name());
    let a = token();
    let w = RunWork::new(r, layout);
    w.dockerfile(&format!("FROM busybox\nRUN sleep {a}; true\n"));
    // A directory the caller left open as descriptor 8 must not reach the stack.
    let held = std::fs::File::open(w.path("")).unwrap();
    let (child, builder) = w.spawn_build_inheriting(&[], Some(held.as_raw_fd()));
    let sleeping = format!("sleep\0{a}");
    wait_for("the RUN to start", || !processes_with(&sleeping).is_empty());
    let stacks = descendants_named(builder, "slirp4netns");
    assert_eq!(
        stacks.len(),
        1,
        "as {who}: slirp4netns processes: {stacks:?}"
    );
    for &pid in &stacks {
        let leaked = std::fs::read_link(format!("/proc/{pid}/fd/8"))
            .is_ok_and(|t| t == w.path("").canonicalize().unwrap());
        assert!(
            !leaked,
            "as {who}: slirp4netns holds the caller's descriptor 8"
        );
    }
    let signal = match ending {
        Ending::Success => {
            for pid in processes_with(&sleeping) {
                let _ = std::process::Command::new("kill")
                    .arg(pid.to_string())
                    .status();
            }
            None
        }
        Ending::Interrupt => Some("-INT"),
        Ending::Kill => Some("-KILL"),
    };
    if let Some(sig) = signal {
        let _ = std::process::Command::new("kill")
            .args([sig, &builder.to_string()])
            .status();
    }
    let out = child.wait_with_output().unwrap();
    if let Ending::Success = ending {
        assert_eq!(
            out.status.code(),
            Some(0),
            "as {who}: {}",
            text(&out.stderr)
        );
    } else {
        assert_ne!(out.status.code(), Some(0), "as {who}");
    }
    wait_for("slirp4netns to end with the build", || {
        !stacks.iter().any(|&p| alive_as(p, "slirp4netns"))
    });
    w.assert_nothing_left(&[&a]);
}
