//! What a command sees inside: ids, groups, working directory, network, pid 1, host
//! name, /proc, /dev, stubs and bind mounts.

use super::*;

#[test]
fn root_inside_can_chown_to_other_ids() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &[],
            &[
                "sh",
                "-c",
                "id -u; touch /tmp/f; chown 1000:1000 /tmp/f; stat -c %u:%g /tmp/f",
            ],
        );
        assert_eq!(ok(&out, &r), "0\n1000:1000\n", "as {}", r.name());
        let meta = std::fs::metadata(fx.root().join("tmp/f")).unwrap();
        assert_eq!(meta.uid(), r.host_uid(1000), "as {}", r.name());
    }
}

#[test]
fn user_runs_with_its_ids_and_supplementary_groups() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &["--user", "user"],
            &["sh", "-c", "id -u; id -g; id -G"],
        );
        let text = ok(&out, &r);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"1000"), "as {}: {text}", r.name());
        assert_eq!(lines.get(1), Some(&"1000"), "as {}: {text}", r.name());
        assert!(
            lines
                .get(2)
                .is_some_and(|g| g.split(' ').any(|g| g == "50")),
            "as {}: {text}",
            r.name()
        );
        // uid:gid takes BuildKit's fast path: no supplementary groups.
        let out = fx.run(&r, &["--user", "1000:1000"], &["id", "-G"]);
        assert_eq!(ok(&out, &r).trim(), "1000", "as {}", r.name());
    }
}

#[test]
fn workdir_is_created_owned_by_the_user() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &["--user", "user", "--cwd", "/app/src"],
            &["sh", "-c", "pwd; stat -c %u:%g /app/src /app"],
        );
        assert_eq!(
            ok(&out, &r),
            "/app/src\n1000:1000\n1000:1000\n",
            "as {}",
            r.name()
        );
    }
}

#[test]
fn network_none_has_only_loopback_up() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(&r, &["--network", "none"], &["cat", "/proc/net/dev"]);
        let text = ok(&out, &r);
        let interfaces: Vec<&str> = text
            .lines()
            .skip(2)
            .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim()))
            .collect();
        assert_eq!(interfaces, ["lo"], "as {}: {text}", r.name());
        let out = fx.run(&r, &["--network", "none"], &["ip", "-o", "link"]);
        let text = ok(&out, &r);
        assert_eq!(text.lines().count(), 1, "as {}: {text}", r.name());
        assert!(
            text.contains(" lo: ") && text.contains(",UP"),
            "as {}: {text}",
            r.name()
        );
    }
}

#[test]
fn pid_one_hostname_and_a_fresh_proc() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &["--hostname", "testbox"],
            &[
                "sh",
                "-c",
                "echo $$; hostname; ls /proc | grep -c '^[0-9]*$'; cat /proc/1/cmdline; echo",
            ],
        );
        let text = ok(&out, &r);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"1"), "as {}: {text}", r.name());
        assert_eq!(lines.get(1), Some(&"testbox"), "as {}: {text}", r.name());
        let pids: u32 = lines.get(2).and_then(|n| n.parse().ok()).unwrap_or(999);
        assert!(
            pids <= 4,
            "as {}: {pids} processes visible: {text}",
            r.name()
        );
        assert!(lines.get(3).is_some_and(|l| l.starts_with("sh")), "{text}");
    }
}

#[test]
fn resolv_conf_and_hosts_are_stubs_and_recorded() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &["--print-stubs"],
            &["sh", "-c", "cat /etc/resolv.conf /etc/hosts; ls /dev"],
        );
        let text = ok(&out, &r);
        assert!(text.contains("nameserver "), "as {}: {text}", r.name());
        assert!(
            text.contains("127.0.0.1\tlocalhost buildkitsandbox"),
            "{text}"
        );
        for dev in [
            "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
        ] {
            assert!(
                text.lines().any(|l| l == dev),
                "as {}: no /dev/{dev}: {text}",
                r.name()
            );
        }
        let err = stderr(&out);
        for stub in ["/etc/resolv.conf", "/etc/hosts", "/proc", "/dev", "/sys"] {
            assert!(
                err.lines().any(|l| l == format!("stub {stub}")),
                "as {}: {err}",
                r.name()
            );
        }
        // What stays in the root is empty: the diff drops it.
        let left = std::fs::metadata(fx.root().join("etc/resolv.conf")).unwrap();
        assert_eq!(left.len(), 0);
        assert_eq!(
            std::fs::read_dir(fx.root().join("proc")).unwrap().count(),
            0
        );
    }
}

#[test]
fn bind_mounts_are_visible_read_only_and_recorded() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let src = fx.dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("hello"), "hi\n").unwrap();
        r.own(&src);
        let spec = format!("{}:/mnt/src:ro", src.display());
        let out = fx.run(
            &r,
            &["--mount", &spec, "--print-stubs"],
            &[
                "sh",
                "-c",
                "cat /mnt/src/hello; touch /mnt/src/x 2>/dev/null || echo read-only",
            ],
        );
        assert_eq!(ok(&out, &r), "hi\nread-only\n", "as {}", r.name());
        let err = stderr(&out);
        assert!(err.lines().any(|l| l == "stub /mnt"), "{err}");
        assert!(err.lines().any(|l| l == "stub /mnt/src"), "{err}");
        assert!(!src.join("x").exists());
    }
}

#[test]
fn default_network_is_private_with_a_route_out() {
    if !Path::new("/usr/bin/slirp4netns").is_file() {
        let why = "slirp4netns is not installed (apt-get install slirp4netns)";
        assert!(!required(), "sandbox test cannot run: {why}");
        eprintln!("\n!!! SKIPPED default_network_is_private_with_a_route_out: {why} !!!\n");
        return;
    }
    for r in runners() {
        let fx = Fixture::new(&r);
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let marker = format!("reached-host-{}", token());
        let greeting = format!("{marker}\n");
        std::thread::spawn(move || {
            for mut conn in server.incoming().flatten() {
                let _ = std::io::Write::write_all(&mut conn, greeting.as_bytes());
            }
        });
        let script = format!(
            "ip route; gw=$(ip route | awk '/^default/ {{print $3}}'); \
             nc -w 2 127.0.0.1 {port} </dev/null; nc -w 2 $gw {port} </dev/null; true"
        );
        let text = ok(&fx.run(&r, &[], &["sh", "-c", &script]), &r);
        assert!(text.contains("default via "), "as {}: {text}", r.name());
        assert!(!text.contains(&marker), "as {}: reached the host", r.name());
        let text = ok(
            &fx.run(&r, &["--network", "host"], &["sh", "-c", &script]),
            &r,
        );
        assert!(text.contains(&marker), "as {}: {text}", r.name());
    }
}

/// A DNS answer to `query` (one question) with the A record 192.0.2.123, or no record for
/// other types.
fn dns_answer(query: &[u8]) -> Option<Vec<u8>> {
    let question = query.get(12..)?;
    let mut end = 0;
    while *question.get(end)? != 0 {
        end += 1 + usize::from(question[end]);
    }
    let question = question.get(..end + 5)?;
    let is_a = question.get(end + 1..end + 3)? == [0, 1];
    let mut out = query.get(..2)?.to_vec();
    out.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(is_a), 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if is_a {
        out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 123]);
    }
    Some(out)
}

#[test]
fn dns_goes_through_the_stack_when_the_host_resolver_is_on_loopback() {
    let test = "dns_goes_through_the_stack_when_the_host_resolver_is_on_loopback";
    if !is_root() || !Path::new("/usr/bin/slirp4netns").is_file() {
        eprintln!(
            "\n!!! SKIPPED {test}: needs root (a private /etc/resolv.conf) and slirp4netns !!!\n"
        );
        return;
    }
    // A resolver on 127.0.0.53, as systemd-resolved's stub, in this network.
    let Ok(dns) = std::net::UdpSocket::bind("127.0.0.53:53") else {
        eprintln!("\n!!! SKIPPED {test}: 127.0.0.53:53 is taken (systemd-resolved?) !!!\n");
        return;
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = dns.recv_from(&mut buf) {
            if let Some(answer) = dns_answer(&buf[..n]) {
                let _ = dns.send_to(&answer, from);
            }
        }
    });
    for r in runners().into_iter().filter(|r| matches!(r, Runner::Me)) {
        let fx = Fixture::new(&r);
        let resolv = fx.dir.path().join("resolv.conf");
        std::fs::write(&resolv, "nameserver 127.0.0.53\n").unwrap();
        // builder sees a host /etc/resolv.conf naming only the loopback resolver.
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount --bind \"$1\" /etc/resolv.conf && exec \"$2\" debug run --rootfs \"$3\" \
                 -- sh -c 'cat /etc/resolv.conf; nslookup -type=a test.example'",
            )
            .arg("sh")
            .arg(&resolv)
            .arg(env!("CARGO_BIN_EXE_builder"))
            .arg(fx.root())
            .output()
            .unwrap();
        fx.assert_clean();
        let text = ok(&out, &r);
        assert!(text.contains("nameserver 10.0.2.3"), "{text}");
        assert!(text.contains("192.0.2.123"), "{text}");
    }
}
