//! The runtimes' state files, in their real formats, under a temporary root.

use super::*;

fn put(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

#[test]
fn nerdctl_crio_and_kubelet_logs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    let id = "ab".repeat(32);
    let cid = "cd".repeat(32);
    put(root, "var/lib/nerdctl/1935db59/names/default/cache", &id);
    put(
        root,
        &format!("run/containers/storage/overlay-containers/{cid}/userdata/config.json"),
        r#"{"annotations":{"io.kubernetes.pod.name":"dns-5d8f","io.kubernetes.pod.namespace":"kube-system","io.kubernetes.container.name":"coredns","io.kubernetes.pod.uid":"u1"}}"#,
    );
    let uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    put(
        root,
        &format!("var/log/pods/monitoring_node-agent-x7k2p_{uid}/agent/0.log"),
        "",
    );
    let other = "ef".repeat(32);
    put(
        root,
        &format!("var/log/containers/web-7f9c5d8b6-x2k4p_default_nginx-{other}.log"),
        "",
    );
    let mut st = StateCache::default();
    st.use_roots(&RuntimeRoots::with_prefix(root));
    assert_eq!(st.nerdctl_name(&id).as_deref(), Some("cache"));
    assert_eq!(st.nerdctl_name(&cid), None);
    let pod = st.pod_of_container(&cid).expect("cri-o annotations");
    assert_eq!(
        (
            pod.namespace.as_deref(),
            pod.name.as_deref(),
            pod.container.as_deref()
        ),
        (Some("kube-system"), Some("dns-5d8f"), Some("coredns"))
    );
    let pod = st.pod_from_logs(None, Some(uid)).expect("pod log dir");
    assert_eq!(
        (
            pod.namespace.as_deref(),
            pod.name.as_deref(),
            pod.container.as_deref()
        ),
        (Some("monitoring"), Some("node-agent-x7k2p"), Some("agent"))
    );
    let pod = st
        .pod_from_logs(Some(&other), None)
        .expect("container log link");
    assert_eq!(
        (
            pod.namespace.as_deref(),
            pod.name.as_deref(),
            pod.container.as_deref()
        ),
        (Some("default"), Some("web-7f9c5d8b6-x2k4p"), Some("nginx"))
    );
    // Cached by mtime: a renamed container is seen once its file changes.
    put(root, "var/lib/nerdctl/1935db59/names/default/cache", "00");
    put(root, "var/lib/nerdctl/1935db59/names/default/redis", &id);
    assert_eq!(st.nerdctl_name(&id).as_deref(), Some("redis"));
}

#[test]
fn docker_config_and_host_config() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    let id = "12".repeat(32);
    put(
        root,
        &format!("var/lib/docker/containers/{id}/config.v2.json"),
        r#"{"Name":"/k8s_app_api-1_default_u_0","State":{"Running":true},"Config":{"Labels":{"io.kubernetes.pod.name":"api-1","io.kubernetes.pod.namespace":"default","io.kubernetes.container.name":"app"}},"NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.9","GlobalIPv6Address":"fd00::9"}},"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}}}"#,
    );
    put(
        root,
        &format!("var/lib/docker/containers/{id}/hostconfig.json"),
        r#"{"PortBindings":{"53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}]}}"#,
    );
    let mut st = StateCache::default();
    st.use_roots(&RuntimeRoots::with_prefix(root));
    let c = st.docker(&id, None).expect("container");
    assert_eq!(c.ips.len(), 2);
    assert_eq!(
        c.pod.as_ref().and_then(|p| p.name.as_deref()),
        Some("api-1")
    );
    assert!(
        c.ports
            .iter()
            .any(|b| b.host_port == 8080 && b.container_port == 80)
    );
    assert!(
        c.ports
            .iter()
            .any(|b| b.host_port == 5353 && b.proto == Proto::Udp)
    );
    assert_eq!(st.docker("../etc", None), None, "ids are hex only");
}
