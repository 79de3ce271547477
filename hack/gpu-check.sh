#!/usr/bin/env bash
# hack/gpu-check.sh (make gpu-check): one bounded GPU check, each step under `timeout`, under 8 minutes in all.
# Prints nvidia-smi and vulkaninfo --summary where present, builds the sd15-shape and sdxl-shape pipelines in fp16,
# runs the engine on webgpu (and cuda when onnxruntime-node's CUDA provider is installed) and on cpu, and prints one
# table of s/step and s/image: 512x512 SD 1.5 shape 25 steps, 1024x1024 SDXL shape 30 steps, batch 1 and 4.
# Exit 0: the table was printed, or there is no GPU here (one line says so). Exit 3: a prerequisite is missing
# (one line says which). Exit 2: bad arguments.
#
#   hack/gpu-check.sh                      the check; needs no network
#   hack/gpu-check.sh --prepare [--bundle] beforehand, on a machine with network (Debian/Ubuntu, apt-get):
#       Debian's Vulkan loader and vulkaninfo, downloaded (apt-get download) and unpacked (dpkg -x) into
#       .gpu-check/root; --bundle also packs node, the runtime node_modules and the built dist folders into
#       .gpu-check/runtime.tar.xz, for a GPU machine without Node 20 (run `make build` first)
#
# Environment: GPU_CHECK_TOTAL_S (default 470), GPU_CHECK_MODELS (where the fp16 pipelines go, default
# /tmp/hypergen-gpu-check/models), GPU_CHECK_OUT (rows.jsonl and table.txt, default .gpu-check/results),
# GPU_CHECK_FORCE=1 (run every step without a GPU, to try the script itself: the webgpu rows then say why not).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$REPO/.gpu-check
TOTAL_S=${GPU_CHECK_TOTAL_S:-470}
MODELS=${GPU_CHECK_MODELS:-/tmp/hypergen-gpu-check/models}
RESULTS=${GPU_CHECK_OUT:-$STATE/results}
ARCH_LIB=usr/lib/x86_64-linux-gnu

say() { printf 'gpu-check: %s\n' "$*"; }
ldc() { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; }

prepare() {
  local bundle=$1
  if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then say "--prepare needs apt-get and dpkg (Debian/Ubuntu)"; exit 3; fi
  mkdir -p "$STATE/debs" "$STATE/root"
  # The loader, and vulkaninfo with the libraries it links that a bare GPU image may lack.
  (cd "$STATE/debs" && timeout 120 apt-get download libvulkan1 vulkan-tools libwayland-client0 libx11-6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0 libx11-data) \
    || { say "apt-get download failed (no network?)"; exit 3; }
  for f in "$STATE"/debs/*.deb; do dpkg -x "$f" "$STATE/root" || exit 3; done
  rm -rf "$STATE/debs" "$STATE/root/usr/share/doc" "$STATE/root/usr/share/man"
  say "Vulkan loader unpacked: $(find "$STATE/root/$ARCH_LIB" -name 'libvulkan.so.1.*' | head -1)"
  [ "$bundle" = 1 ] || return 0
  cd "$REPO" || exit 3
  if [ ! -f server/dist/engine/index.js ] || [ ! -f hack/dist/bench/gpu-check.js ]; then say "build first (make build)"; exit 3; fi
  local closure
  closure=$(npm ls --omit=dev --all --parseable -w server 2>/dev/null | sed "s#^$REPO/##" | grep '^node_modules/' | sort -u)
  [ -n "$closure" ] || { say "npm ls found no runtime dependencies (npm ci first)"; exit 3; }
  # Only linux-x64 of onnxruntime-node, no type declarations or source maps: about 50 MB compressed.
  # shellcheck disable=SC2086
  tar -cf - --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
      --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' --exclude='*.map' --exclude='*.d.ts' --exclude='node_modules/@types' \
      package.json server/package.json server/dist server/assets hack/package.json hack/dist node_modules/@hypergen/server node_modules/@hypergen/hack \
      $closure -C "$(dirname "$(readlink -f "$(command -v node)")")" node \
    | xz -T0 -6 > "$STATE/runtime.tar.xz.tmp" || { say "packing the runtime failed"; exit 3; }
  mv "$STATE/runtime.tar.xz.tmp" "$STATE/runtime.tar.xz"
  say "runtime bundle: $STATE/runtime.tar.xz ($(du -h "$STATE/runtime.tar.xz" | cut -f1))"
}

case "${1:-}" in
  --prepare) prepare "$([ "${2:-}" = --bundle ] && echo 1 || echo 0)"; exit 0 ;;
  '') ;;
  *) say "unknown argument '$1' (usage: hack/gpu-check.sh [--prepare [--bundle]])"; exit 2 ;;
esac

START=$SECONDS
left() { echo $((TOTAL_S - (SECONDS - START))); }
# limit CAP: the cap, or what is left of the total minus a reserve for the table.
limit() { local l; l=$(($(left) - 20)); [ "$1" -lt "$l" ] && echo "$1" || echo "$l"; }

# 1. Is there a GPU at all? One line and exit 0 if not.
gpus=""
{ command -v nvidia-smi >/dev/null || ls /dev/nvidia0 >/dev/null 2>&1; } && gpus="nvidia"
ls /dev/dri/renderD* >/dev/null 2>&1 && gpus="$gpus dri"
if [ -z "$gpus" ] && [ "${GPU_CHECK_FORCE:-}" != 1 ]; then
  say "no GPU on this machine (no nvidia-smi, no /dev/nvidia0, no /dev/dri/renderD*): nothing to measure"
  exit 0
fi

echo "== GPU"
if command -v nvidia-smi >/dev/null; then
  timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || say "nvidia-smi failed or timed out"
fi

# 2. Vulkan: the loader (system, else the unpacked Debian package), then a driver manifest (ICD).
if ! ldc | grep -q 'libvulkan\.so\.1 '; then
  if [ -f "$STATE/root/$ARCH_LIB/libvulkan.so.1" ]; then
    export LD_LIBRARY_PATH="$STATE/root/$ARCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "Vulkan loader: $STATE/root/$ARCH_LIB (unpacked by --prepare)"
  else
    say "no Vulkan loader (libvulkan.so.1) here and none unpacked: run hack/gpu-check.sh --prepare with network first; webgpu will not load"
  fi
fi
[ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64"
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
  icd=$(find /usr/local/nvidia /usr/share/vulkan /etc/vulkan /usr/share/glvnd -maxdepth 4 -name 'nvidia_icd*.json' 2>/dev/null | head -1)
  if [ -z "$icd" ] && ldc | grep -q 'libGLX_nvidia\.so\.0'; then
    # The driver's Vulkan library is there without its manifest: write one.
    mkdir -p "$STATE" && icd=$STATE/nvidia_icd.json
    printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0"}}\n' > "$icd"
  fi
  if [ -n "$icd" ]; then
    export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
    say "Vulkan driver manifest: $icd"
  else
    say "no Vulkan driver manifest (ICD) found; webgpu will not find an adapter"
  fi
fi
echo "== Vulkan"
vulkaninfo=$(command -v vulkaninfo || { [ -x "$STATE/root/usr/bin/vulkaninfo" ] && echo "$STATE/root/usr/bin/vulkaninfo"; } || true)
if [ -n "$vulkaninfo" ]; then timeout 20 "$vulkaninfo" --summary 2>&1 | head -60 || say "vulkaninfo failed or timed out"
else say "vulkaninfo not present (hack/gpu-check.sh --prepare unpacks it)"; fi

# 3. The runtime: this checkout when it is built, else the bundle from --prepare --bundle.
RT=$REPO
NODE=$(command -v node || true)
built() { [ -f "$1/server/dist/engine/worker/worker.js" ] && [ -f "$1/hack/dist/bench/gpu-check.js" ] && [ -f "$1/hack/dist/models/cli.js" ] && [ -d "$1/node_modules/onnxruntime-node" ]; }
node20() { [ -n "$1" ] && [ "$("$1" -p 'Number(process.versions.node.split(".")[0]) >= 20' 2>/dev/null)" = true ]; }
if ! node20 "$NODE" || ! built "$RT"; then
  if [ -f "$STATE/runtime.tar.xz" ]; then
    RT=/tmp/hypergen-gpu-check/runtime
    rm -rf "$RT"
    mkdir -p "$RT"
    timeout "$(limit 90)" tar -xJf "$STATE/runtime.tar.xz" -C "$RT" || { say "unpacking $STATE/runtime.tar.xz failed"; exit 3; }
    NODE=$RT/node
  else
    say "no Node 20 with a built checkout (make build) and no .gpu-check/runtime.tar.xz (hack/gpu-check.sh --prepare --bundle): cannot run the engine"
    exit 3
  fi
fi
if ! node20 "$NODE" || ! built "$RT"; then say "the runtime in $RT is incomplete"; exit 3; fi
cd "$RT" || exit 3
echo "== runtime: node $("$NODE" --version) in $RT; $(left) s of ${TOTAL_S} s left"

mkdir -p "$RESULTS" "$MODELS"
ROWS=$RESULTS/rows.jsonl
: > "$ROWS"
row() { printf '{"label":"%s","size":"%s","steps":%s,"device":"%s","note":"%s"}\n' "$1" "$2" "$3" "$4" "$5" >> "$ROWS"; }

# 4. fp16 pipelines (the generator's random weights in the real SD 1.5 / SDXL base shapes; VAE kept fp32 as diffusers does).
generate() {
  local preset=$1 cap=$2 t
  t=$(limit "$cap")
  [ "$t" -gt 10 ] || { say "no time left to build $preset"; return 1; }
  echo "== $preset fp16 (up to ${t} s)"
  timeout "$t" "$NODE" hack/dist/models/cli.js generate --preset "$preset" --dtype fp16 --out "$MODELS/$preset-fp16" || { say "building $preset failed or passed ${t} s"; return 1; }
}

# 5. One engine run: case LABEL SIZE STEPS DEVICE CAP [extra args]; a run stopped at its limit leaves a row saying so.
run_case() {
  local label=$1 size=$2 steps=$3 device=$4 cap=$5 t
  shift 5
  t=$(limit "$cap")
  if [ "$t" -lt 30 ]; then row "$label" "${size}x${size}" "$steps" "$device" "skipped: the ${TOTAL_S} s budget is spent"; return; fi
  echo "== $label ${size}x${size} $steps steps on $device (up to ${t} s)"
  # The measured run must fit in what is left after loading: the case's own budget is a little under its limit.
  timeout -k 5 "$t" "$NODE" hack/dist/bench/gpu-check.js case --model "$MODELS/$label-fp16" --label "$label" --device "$device" \
    --size "$size" --steps "$steps" --budget-s $((t - 10)) "$@" >> "$ROWS"
  local rc=$?
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && row "$label" "${size}x${size}" "$steps" "$device" "stopped at its ${t} s limit (rows above, if any, are what finished)"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ] && row "$label" "${size}x${size}" "$steps" "$device" "failed with exit code $rc"
  return 0
}

cuda=""
[ -f "$RT/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so" ] && cuda=1
# CPU: 1 step without warm-up, extrapolated (labelled so); the GPU providers warm up, then run all steps when they fit.
CPU_ARGS=(--probe-steps 1 --no-warmup)

if generate sd15-shape 90; then
  run_case sd15-shape 512 25 webgpu 100
  [ -n "$cuda" ] && run_case sd15-shape 512 25 cuda 80
  run_case sd15-shape 512 25 cpu 60 "${CPU_ARGS[@]}"
else row sd15-shape 512x512 25 - "not built"; fi
if generate sdxl-shape 150; then
  run_case sdxl-shape 1024 30 webgpu 150
  [ -n "$cuda" ] && run_case sdxl-shape 1024 30 cuda 100
  run_case sdxl-shape 1024 30 cpu 100 "${CPU_ARGS[@]}"
else row sdxl-shape 1024x1024 30 - "not built"; fi
[ -n "$cuda" ] || say "cuda not run: onnxruntime-node's CUDA provider is not installed in $RT (npm ci without ONNXRUNTIME_NODE_INSTALL=skip, with network)"

echo "== results ($((SECONDS - START)) s)"
"$NODE" hack/dist/bench/gpu-check.js table "$ROWS" | tee "$RESULTS/table.txt"
exit 0
