#!/usr/bin/env bash
# Builds deploy/Dockerfile with podman where no image registry is reachable (this project's machines and CI).
#
#   deploy/image/build.sh        prints the built image's ID on stdout (also tagged $STREAMPROC_IMAGE); progress and
#                                the seconds each step took go to stderr
#
# 1. podman, runc and mmdebstrap from Debian's packages when missing (as root: apt-get install).
# 2. The containers.conf settings this host needs, in a drop-in of our own (containers.conf.d/50-streamproc.conf):
#    a user's own containers.conf is left as it is. Only what the host needs is written (see write_containers_conf).
# 3. The base image, once: a Debian bookworm root file system with Debian's python3 (3.11, which requires-python
#    >=3.11 accepts), made by mmdebstrap from Debian's packages and imported into podman's storage as
#    $STREAMPROC_BASE_TAG. mmdebstrap is Debian's successor to debootstrap: the same packages, fetched by apt in
#    parallel and streamed as a tarball into `podman import`, about three times faster here, with no root file
#    system left on disk. The base is labelled with a hash of its recipe; a changed recipe makes a new one. The
#    packages are the ones the official python:3.11-slim-bookworm has that the image uses (libstdc++ for pyarrow and
#    deltalake, CA certificates, tzdata, netbase), plus passwd for the Dockerfile's useradd.
# 4. The project's wheel, built here with the contracts' event decoder (Rust) compiled by the host's cargo, into
#    var/image/dist/ (what `make wheel` does): the image takes it as it is and needs no compiler.
# 5. `podman build` of deploy/Dockerfile, unchanged, with --build-arg BASE_IMAGE=$STREAMPROC_BASE_TAG --pull=never.
#    Podman's layer cache makes an unchanged rebuild take seconds, and a change of code (not of pyproject.toml)
#    reuse the dependencies' layer.
#
# The pip of the image's build stage reaches PyPI the way the host's does: a CA bundle or index URL configured for
# the host's pip (PIP_CERT / PIP_INDEX_URL, or pip's config files) is written into the base's /etc/pip.conf. That
# base is for local builds only: images for users build FROM python:*-slim (`docker build -f deploy/Dockerfile .`).
#
# Environment: STREAMPROC_PYTHON (the Python that builds the wheel, default the checkout's .venv, as `make install`
# made it with cargo on PATH), STREAMPROC_IMAGE (tag, default localhost/streamproc:latest), STREAMPROC_BASE_TAG (default
# localhost/streamproc-base:bookworm), STREAMPROC_BASE_IMAGE (build FROM this instead, e.g. python:3.11-slim-bookworm
# where Docker Hub is reachable: no local base is made). Needs root the first time (apt-get, /etc/containers).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE=${STREAMPROC_IMAGE:-localhost/streamproc:latest}
BASE_TAG=${STREAMPROC_BASE_TAG:-localhost/streamproc-base:bookworm}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/streamproc
SUITE=bookworm
BASE_PACKAGES=passwd,python3,python3-venv,python-is-python3,libstdc++6,ca-certificates,tzdata,netbase
# No manuals, translations or docs in the base (their copyright files stay).
BASE_DPKG_OPTS=(
  'path-exclude=/usr/share/man/*'
  'path-exclude=/usr/share/locale/*'
  'path-include=/usr/share/locale/locale.alias'
  'path-exclude=/usr/share/doc/*'
  'path-include=/usr/share/doc/*/copyright'
)
RECIPE_LABEL=org.streamproc.base.recipe

log() { echo "build.sh: $*" >&2; }

timed() {  # timed WHAT COMMAND...: runs COMMAND, then logs how long WHAT took
  local what=$1 start=$SECONDS
  shift
  "$@"
  log "$what: $((SECONDS - start)) s"
}

install_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || [[ -x /usr/sbin/runc ]] || missing+=(runc)
  [[ -n ${STREAMPROC_BASE_IMAGE:-} ]] || command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    log "${missing[*]} missing and this is not root: run 'sudo apt-get install --no-install-recommends ${missing[*]}'"
    exit 1
  fi
  log "installing ${missing[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
}

write_containers_conf() {
  # Each setting only where this host needs it; nothing at all on a host where podman's defaults work.
  local containers=() engine=() dir file content
  # Podman raises a root container's open-files and processes limits to 1048576; where even root may not (a sandbox
  # without CAP_SYS_RESOURCE), the runtime fails with "error setting rlimit type 7": keep the host's limits instead.
  if ! prlimit --nofile=1048576:1048576 --nproc=1048576:1048576 true 2>/dev/null; then
    containers+=('default_ulimits = []')
  fi
  # crun, podman's first choice, refuses a hybrid (v1 + v2) cgroup hierarchy; runc runs on it.
  [[ -f /sys/fs/cgroup/cgroup.controllers ]] || engine+=('runtime = "runc"')
  # Without systemd as init there is no systemd cgroup manager to ask.
  [[ -d /run/systemd/system ]] || engine+=('cgroup_manager = "cgroupfs"')
  [[ ${#containers[@]} -eq 0 && ${#engine[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -eq 0 ]]; then dir=/etc/containers/containers.conf.d
  else dir=${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf.d; fi
  file=$dir/50-streamproc.conf
  content=$(
    echo "# Written by streamproc's deploy/image/build.sh: what podman needs on this host (see the comments there)."
    echo "[containers]"
    printf '%s\n' "${containers[@]}"
    echo "[engine]"
    printf '%s\n' "${engine[@]}"
  )
  [[ -f $file && $(cat "$file") == "$content" ]] && return 0
  mkdir -p "$dir"
  printf '%s\n' "$content" >"$file"
  log "wrote $file"
}

host_pip() {  # host_pip KEY ENVVAR: the host's pip setting (environment first, then pip's config files)
  local value=${!2:-}
  [[ -z $value ]] && value=$(python3 -m pip config get "global.$1" 2>/dev/null || true)
  echo "$value"
}

base_recipe() {  # what the base is made of; its hash labels the base
  printf '%s\n' "$SUITE" "$BASE_PACKAGES" "${BASE_DPKG_OPTS[@]}" "index-url=$(host_pip index-url PIP_INDEX_URL)"
  local cert
  cert=$(host_pip cert PIP_CERT)
  [[ -n $cert && -f $cert ]] && sha256sum <"$cert"
  return 0
}

make_base() {
  local recipe cert index_url hook opts=()
  recipe=$(base_recipe | sha256sum | cut -c1-16)
  if [[ $(podman image inspect --format "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$BASE_TAG" 2>/dev/null) == "$recipe" ]]; then
    return 0
  fi
  log "making the base image $BASE_TAG (Debian $SUITE with python3, by mmdebstrap; once)"
  cert=$(host_pip cert PIP_CERT)
  index_url=$(host_pip index-url PIP_INDEX_URL)
  hook='printf "[global]\n" > "$1/etc/pip.conf"'
  if [[ -n $cert && -f $cert ]]; then
    hook+=" && cp '$cert' \"\$1/etc/ssl/certs/host-pip-ca.pem\""
    hook+=' && printf "cert = /etc/ssl/certs/host-pip-ca.pem\n" >> "$1/etc/pip.conf"'
  fi
  [[ -n $index_url ]] && hook+=" && printf 'index-url = %s\n' '$index_url' >> \"\$1/etc/pip.conf\""
  for opt in "${BASE_DPKG_OPTS[@]}"; do opts+=("--dpkgopt=$opt"); done
  # No mirror given: mmdebstrap's default Debian mirror, with the suite's updates and security archives.
  mmdebstrap --quiet --variant=essential --include="$BASE_PACKAGES" "${opts[@]}" --customize-hook="$hook" \
    "$SUITE" - \
    | podman import --quiet --change "ENV LANG=C.UTF-8" --change 'CMD ["python3"]' \
        --change "LABEL $RECIPE_LABEL=$recipe" - "$BASE_TAG" >/dev/null
}

build_wheel() {  # the project's wheel into var/image/dist/, the decoder compiled (cargo reuses contracts/native/target)
  local python=${STREAMPROC_PYTHON:-$REPO/.venv/bin/python}
  [[ -x $python ]] || python=python3
  rm -rf "$REPO/var/image/dist"
  PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH "$python" -m pip wheel --no-deps --quiet --wheel-dir "$REPO/var/image/dist" \
    "$REPO" >&2
}

build_image() {
  local base=${STREAMPROC_BASE_IMAGE:-$BASE_TAG} pull=never iidfile previous
  [[ -n ${STREAMPROC_BASE_IMAGE:-} ]] && pull=missing
  previous=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  iidfile=$(mktemp)
  # --network=host: the build's pip reaches PyPI without a container network (none is set up here);
  # --format docker: keeps the HEALTHCHECK, which OCI image configs cannot hold.
  podman build --pull="$pull" --network=host --format docker --build-arg "BASE_IMAGE=$base" \
    --file "$REPO/deploy/Dockerfile" --ignorefile "$REPO/deploy/Dockerfile.dockerignore" \
    --tag "$IMAGE" --iidfile "$iidfile" "$REPO" >&2
  IMAGE_ID=$(cat "$iidfile")
  rm -f "$iidfile"
  # The image this tag named before, unless a container still uses it: each build of changed code adds a layer of
  # the virtualenv's size (~500 MB) that nothing else shares. The build stages stay: they are the layer cache.
  if [[ -n $previous && sha256:$previous != "$IMAGE_ID" ]]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
  fi
}

main() {
  local start=$SECONDS
  timed "tools" install_tools
  write_containers_conf
  if [[ -z ${STREAMPROC_BASE_IMAGE:-} ]]; then
    mkdir -p "$CACHE"
    exec 9>"$CACHE/image-base.lock"
    flock 9  # one base at a time, also when two checkouts build at once
    timed "base image" make_base
    flock -u 9
  fi
  timed "wheel" build_wheel
  timed "podman build" build_image
  log "$IMAGE ($IMAGE_ID) in $((SECONDS - start)) s"
  echo "$IMAGE_ID"
}

main "$@"
