# onnxruntime-node's install script would download the CUDA provider; CPU inference needs nothing extra.
export ONNXRUNTIME_NODE_INSTALL := skip
NODE_ENV_FLAGS := --experimental-vm-modules --no-warnings=ExperimentalWarning
MODEL ?= models/shapes
MODEL_ID ?= hypergen/shapes
PORT ?= 8000

.PHONY: all install build run test bench lint tiny-models images manifests demo readme-image gpu-check clean

all: build

node_modules/.package-lock.json: package-lock.json
	npm ci

install: node_modules/.package-lock.json

build: install
	npx tsc -b

# The README's first command: serve the shapes demo model (converted from hack/demo-model) on :8000.
run: build tiny-models
	node server/dist/cli.js serve $(MODEL) --model-id $(MODEL_ID) --port $(PORT)

# The random-weight tiny pipelines (family coverage for the tests) and the shapes demo model, converted from its
# diffusers folder by HyperGen's own converter (a current conversion is left as it is).
tiny-models: build
	node hack/dist/models/cli.js tiny-models --out models
	node server/dist/cli.js convert hack/demo-model/shapes-pipeline --out models/shapes --log-level warn

# The README's second command: every test suite.
# Under CI (CI=true) jest is told to exit once the run is over: one clean-clone run this session finished every suite
# and then waited on an in-process handle that no later run (with --detectOpenHandles) could show. Locally it is not
# forced, so a leak still shows as a jest that does not exit. Processes the tests start are stopped by the tests.
JEST_CI_FLAGS := $(if $(filter true,$(CI)),--forceExit,)
test: build tiny-models
	node $(NODE_ENV_FLAGS) node_modules/jest/bin/jest.js $(JEST_CI_FLAGS) $(JEST_ARGS)

bench: build tiny-models
	node hack/dist/bench/cli.js

# On a GPU machine: GPU/Vulkan info, fp16 shape pipelines, engine on webgpu (+ cuda) and cpu, one table (< 8 min);
# one line and exit 0 without a GPU. docs/gpu-nodes.md; `hack/gpu-check.sh --prepare` beforehand on a bare machine.
gpu-check: build
	hack/gpu-check.sh

# kubectl apply examples/tiny.yaml on the local test cluster (pods run as local processes), then one image through
# the Service with the OpenAI SDK, saved to $(DEMO_OUT); everything is stopped afterwards.
DEMO_OUT ?= demo.png
demo: build tiny-models
	node hack/dist/demo/cli.js $(DEMO_OUT)

# The picture on the README's first screen: the README's own curl body sent to the default model.
readme-image: build tiny-models
	node hack/dist/demo/readme-image.js

lint: install
	npx eslint .
	npx tsc -b
	npx tsc -p tsconfig.test.json

# Regenerate the chart's CRD templates from crds/ (a test fails when they drift).
manifests: build
	node hack/dist/chart/cli.js manifests

# Container images (server/Dockerfile, operator/Dockerfile) with the tags the chart defaults to.
IMAGE_TAG ?= $(shell node -p "require('./package.json').version")
images:
	@engine=""; for e in docker podman; do \
	  if command -v $$e >/dev/null 2>&1 && $$e info >/dev/null 2>&1; then engine=$$e; break; fi; done; \
	if [ -z "$$engine" ]; then \
	  echo "make images: no usable container engine (docker or podman not installed, or its daemon is not running); no image built" >&2; \
	  exit 1; fi; \
	set -e; \
	$$engine build -f server/Dockerfile -t ghcr.io/hypergen/hypergen:$(IMAGE_TAG) .; \
	$$engine build -f operator/Dockerfile -t ghcr.io/hypergen/hypergen-operator:$(IMAGE_TAG) .

clean:
	rm -rf server/dist operator/dist hack/dist hack/testcluster/dist models
