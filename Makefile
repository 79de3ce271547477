# onnxruntime-node's install script would download the CUDA provider; CPU inference needs nothing extra.
export ONNXRUNTIME_NODE_INSTALL := skip
NODE_ENV_FLAGS := --experimental-vm-modules --no-warnings=ExperimentalWarning
MODEL ?= models/tiny-sd
PORT ?= 8000

.PHONY: all install build run test bench lint tiny-models images manifests demo clean

all: build

node_modules/.package-lock.json: package-lock.json
	npm ci

install: node_modules/.package-lock.json

build: install
	npx tsc -b

# The README's first command: serve the bundled tiny SD pipeline on :8000.
run: build tiny-models
	node server/dist/cli.js serve $(MODEL) --port $(PORT)

tiny-models: build
	node hack/dist/models/cli.js tiny-models --out models

# The README's second command: every test suite.
test: build tiny-models
	node $(NODE_ENV_FLAGS) node_modules/jest/bin/jest.js $(JEST_ARGS)

bench: build tiny-models
	node hack/dist/bench/cli.js

lint: install
	npx eslint .
	npx tsc -b
	npx tsc -p tsconfig.test.json

clean:
	rm -rf server/dist operator/dist hack/dist models
