//! The long help of the commands (`builder build --help`): what the command does, in more
//! words than the one-line summary, and a few examples to copy. The one-line summaries and the
//! flags' help live beside their clap definitions.

/// `builder --help`.
pub(super) const BUILDER: &str = "\
A daemonless, rootless builder: a Dockerfile and a build context in, an OCI image out.

Images are kept in a local store (--root) and can be written to files or pushed to a registry.
Flags follow `docker buildx build` wherever buildx has the same idea.

Exit status: 0 on success, 1 when a build or command fails, 2 for a wrong command line or a \
Dockerfile that does not parse.";

/// `builder build --help`.
pub(super) const BUILD: &str = "\
Build an image from a Dockerfile and a context.

The image goes into the local store, under every -t name; -o writes it (or its root file \
system) somewhere else as well, and only once the whole build has succeeded. A failed build \
prints the failing Dockerfile lines, the cause (a RUN's exit code and the end of its output) \
and exits 1.

Examples:
  builder build -t app .
  builder build -f docker/Dockerfile.prod --target runtime --build-arg VERSION=1.2 -t app:1.2 .
  builder build -t app -o type=oci,dest=app.tar .
  builder build -t app -o type=docker,dest=app.tar .      # then: docker load -i app.tar
  builder build -t localhost:5000/app --push .
  builder build --build-context alpine=oci-layout://./alpine -t app .   # offline base image
  tar -c . | builder build -f Dockerfile -
  builder build -t app - < Dockerfile                 # no context: COPY has nothing to read
  builder build -t app -f - . < Dockerfile.dev";

/// `builder save --help`.
pub(super) const SAVE: &str = "\
Write images from the local store to one tarball, for hosts without a registry.

The default format is an OCI image layout as a tar archive (`skopeo inspect \
oci-archive:FILE` reads it); --format docker writes what `docker load` and `podman load` \
accept. The file appears only once it is complete.

Examples:
  builder save app:1.2 -o app.tar
  builder save --format docker app:1.2 base:latest -o images.tar
  builder save app -o - | ssh host docker load";

/// `builder load --help`.
pub(super) const LOAD: &str = "\
Import an OCI or docker tarball (plain or gzip-compressed) into the local store.

Accepts what `builder save`, `docker save`, `podman save` and `-o type=oci|docker` write. The \
images keep the names the tarball gives them; prints `Loaded image: NAME` for each.

Examples:
  builder load -i app.tar
  docker save busybox | builder load
  builder load --platform linux/arm64 -i multi-arch.tar";

/// `builder push --help`.
pub(super) const PUSH: &str = "\
Push an image from the local store to a registry.

Without DEST the image goes to the registry and repository its NAME says (`app` means \
docker.io/library/app). Credentials come from `builder login` (Docker's config.json). \
Registries on localhost and 127.0.0.1 use plain HTTP; list others in \
BUILDER_INSECURE_REGISTRIES or pass --insecure. Prints the pushed manifest digest.

--all-tags NAME pushes every tag of the repository NAME (written without a tag) that the \
local store has, each under its own name, as `docker push --all-tags`; a digest is printed \
per tag, in name order. It takes no DEST and no --iidfile.

Examples:
  builder push localhost:5000/app:1.2
  builder push app:1.2 registry.example.com/team/app:1.2
  builder push --iidfile digest.txt app ghcr.io/me/app:latest
  builder push --all-tags localhost:5000/app";

/// `builder pull --help`.
pub(super) const PULL: &str = "\
Fetch an image from its registry into the local store.

`busybox` means docker.io/library/busybox:latest. From a multi-platform image the host's \
platform is taken, or --platform's. Builds pull missing base images themselves; pull ahead \
of time to build offline later.

A download that gets no data for BUILDER_REGISTRY_TIMEOUT seconds (default 30) resumes, 5 \
tries in all; then the pull fails naming the blob.

Examples:
  builder pull busybox
  builder pull --platform linux/arm64 alpine:3.20
  builder pull localhost:5000/base@sha256:...";

/// `builder prune --help`.
pub(super) const PRUNE: &str = "\
Free disk space: remove build cache records, the kept downloads of ADD's URLs and \
repositories of its Git sources, and everything only the records needed (blobs, snapshots, flattened trees, leftovers of killed \
builds). Running builds are waited for.

Images that have a name are kept. --all also drops the unpacked snapshots of named images \
(remade from their layers when needed) and RUN cache mounts; --keep-storage removes the \
least recently used cache until the store is at most that size; --filter until=DURATION \
spares cache used more recently than that. `builder du` shows what would be freed.

Examples:
  builder prune
  builder prune --all
  builder prune --filter until=24h
  builder prune --keep-storage 10GB";

/// `builder images --help`.
pub(super) const IMAGES: &str = "\
List the images in the local store: name, digest (the manifest's, or a multi-platform \
image's index's; its first 12 hex digits, as Docker shows image ids), size and age. A \
multi-platform image is followed by a row per platform. -q prints only the digests, one per \
image.

SIZE is the uncompressed size, as docker and podman show it: the sum of the sizes of the \
layers' plain tars (of every platform, for a multi-platform image). Each layer blob is \
decompressed once to count it; the store remembers the result in layer-sizes.json.

--format prints a line per name through a template of Docker's fields: {{.Repository}} \
(the short name, `app` for docker.io/library/app), {{.Tag}}, {{.ID}} (the short digest, \
which inspect, rmi and push accept), {{.Digest}} (the whole digest), {{.CreatedSince}}, \
{{.CreatedAt}} (RFC 3339) and {{.Size}}; {{json .Field}} prints a field as JSON. `table ` \
before the template adds a header and aligns the columns that \\t separates. --format json \
prints those fields as one JSON object per line. Other fields and template functions are \
refused.

--filter keeps images that match, several filters of one key if any matches, of \
different keys if all do: reference=PATTERN (a glob, `*` not crossing `/`, tried on the \
short name with and without its tag and on the full name), dangling=true|false (every \
image in the store has a name, so none is dangling), before=IMAGE and since=IMAGE \
(created before or after that image). Other keys are refused.

Examples:
  builder images
  builder images --filter reference='app*' --format '{{.Repository}}:{{.Tag}}'
  builder images --format 'table {{.ID}}\\t{{.Repository}}\\t{{.Size}}'
  builder images --format json | jq -r .Digest
  builder rmi $(builder images -q --filter before=app:1.2)";

/// `builder history --help`.
pub(super) const HISTORY: &str = "\
Show the history of an image in the local store, newest step first, in docker history's \
columns: IMAGE (the short digest on the top row, <missing> below, as Docker shows pulled \
images), CREATED, CREATED BY (cut to 45 characters unless --no-trunc), SIZE and COMMENT.

SIZE is the uncompressed size of the layer the step made; steps that changed only the \
config (ENV, CMD, LABEL...) made no layer and show 0B. Of a multi-platform image, the \
host's platform is shown.

--format takes a template of the fields {{.ID}}, {{.CreatedSince}}, {{.CreatedAt}}, \
{{.CreatedBy}}, {{.Size}} and {{.Comment}} (`table ` first for a header and columns), or \
json for a JSON object per line. -q prints only the IMAGE column.

Examples:
  builder history app:1.2
  builder history --no-trunc --format '{{.Size}}\\t{{.CreatedBy}}' app";

/// `builder rmi --help`.
pub(super) const RMI: &str = "\
Remove image names from the local store.

A name removes that name; a digest or digest prefix removes every name of that image \
(Docker needs -f for that when the image has several names; builder does not). The \
image's blobs stay until `builder prune`.

Every NAME is tried, and each failure is reported; the command fails if any did. With -f, \
as with `docker rmi -f`, a NAME that is not in the store is skipped silently; other \
failures (an ambiguous digest prefix, a damaged name index) still fail.

Examples:
  builder rmi app:1.2
  builder rmi sha256:3f2a
  builder rmi -f app:old app:older";

/// `builder tag --help`.
pub(super) const TAG: &str = "\
Give an image in the local store another name; the image is not copied.

Example:
  builder tag app:1.2 localhost:5000/app:1.2";

/// `builder inspect --help`.
pub(super) const INSPECT: &str = "\
Print one JSON object with an image's names, manifest digest, media type, and its manifest \
and config as stored.

--format prints a template over Docker's `docker image inspect` fields instead: Id (the \
config digest, Docker's image id), RepoTags, RepoDigests, Created, Author, Architecture, \
Variant, Os, Size (uncompressed), Config (Env, Cmd, Entrypoint, WorkingDir, User, Labels, \
ExposedPorts, Volumes, StopSignal, ...), RootFS (Type, Layers). Paths go \
as deep as the document does ({{.Config.Env}}, {{.Config.Labels.version}}); {{json \
.Config}} prints JSON. An unknown field is refused. --format json prints that document, \
in a JSON array as docker does. Of a multi-platform image, --format reads the host's \
platform.

Examples:
  builder inspect app | jq .config.config.Env
  builder inspect --format '{{.Id}} {{.Architecture}}' app
  builder inspect --format '{{json .Config.Env}}' app";

/// `builder debug --help`.
pub(super) const DEBUG: &str = "\
Inspect how a Dockerfile is understood, without building it.

Examples:
  builder debug parse Dockerfile
  builder debug plan --target runtime --build-arg VERSION=1.2 Dockerfile";

/// `builder completion --help`.
pub(super) const COMPLETION: &str = "\
Print a shell completion script to standard output.

Examples:
  builder completion bash > ~/.local/share/bash-completion/completions/builder
  builder completion zsh > ~/.zfunc/_builder      # with fpath+=(~/.zfunc) in ~/.zshrc
  builder completion fish > ~/.config/fish/completions/builder.fish";
