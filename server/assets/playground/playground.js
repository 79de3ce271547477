// HyperGen playground: reads playground/config.json, posts the form to v1/images/generations (b64_json), shows each
// image with its seed and the time taken, and the server's queue (health) while waiting. The API key, when the
// server needs one, lives in this page's memory only: it is never stored or put in a URL.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { config: undefined, apiKey: '' };

function show(element, visible) {
  element.hidden = !visible;
}

function setStatus(text) {
  $('status').textContent = text;
}

function setError(text) {
  $('error').textContent = text ?? '';
  show($('error'), Boolean(text));
}

/** The message of an error body: OpenAI's {"error":{"message"}} or the 401 {"detail"}. */
function errorMessage(status, body) {
  if (body && typeof body === 'object') {
    if (body.error && typeof body.error.message === 'string') return body.error.message;
    if (typeof body.detail === 'string') return body.detail;
  }
  return `The server answered HTTP ${status}.`;
}

/** Squares around the model's default size, on its size grid and within its limits. */
function sizeChoices(defaults, limits) {
  const grid = limits.size_multiple;
  const sizes = new Set();
  for (const factor of [0.5, 0.75, 1, 1.5, 2]) {
    const side = Math.round((defaults.width * factor) / grid) * grid;
    if (side >= limits.min_size && side <= limits.max_size) sizes.add(side);
  }
  const list = [...sizes].sort((a, b) => a - b).map((side) => `${side}x${side}`);
  const native = `${defaults.width}x${defaults.height}`;
  if (!list.includes(native)) list.push(native);
  return { list, native };
}

function fillSelect(select, values, selected) {
  select.replaceChildren(
    ...values.map((value) => {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = value;
      option.selected = value === selected;
      return option;
    }),
  );
}

function applyConfig(config) {
  state.config = config;
  $('model-line').textContent = `Model ${config.model} · ${config.family} · ${config.device}`;
  const { list, native } = sizeChoices(config.defaults, config.limits);
  fillSelect($('size'), list, native);
  fillSelect($('scheduler'), config.schedulers, config.defaults.scheduler);
  $('steps').value = String(config.defaults.steps);
  $('steps').max = String(config.limits.max_steps);
  $('guidance').value = String(config.defaults.guidance_scale);
  show($('key-row'), config.auth);
  $('generate').disabled = false;
}

async function loadConfig() {
  for (;;) {
    try {
      const response = await fetch('playground/config.json', { cache: 'no-store' });
      const config = await response.json();
      if (response.ok && config.ready) return applyConfig(config);
      $('model-line').textContent = `Model ${config.model ?? ''} is loading…`;
    } catch {
      $('model-line').textContent = 'Cannot reach the server; retrying…';
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function requestBody() {
  const body = {
    prompt: $('prompt').value,
    n: Number($('n').value),
    size: $('size').value,
    num_inference_steps: Number($('steps').value),
    guidance_scale: Number($('guidance').value),
    scheduler: $('scheduler').value,
    response_format: 'b64_json',
    output_format: 'png',
  };
  const negative = $('negative_prompt').value;
  if (negative) body.negative_prompt = negative;
  const seed = $('seed').value.trim();
  if (seed !== '') body.seed = Number(seed);
  return body;
}

function showImages(data, body, seconds) {
  const figures = [];
  for (const image of data) {
    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.src = `data:image/png;base64,${image.b64_json}`;
    img.alt = body.prompt;
    const caption = document.createElement('figcaption');
    caption.textContent = `seed ${image.seed} · ${body.size} · ${body.num_inference_steps} steps · ${seconds.toFixed(1)} s — ${body.prompt}`;
    figure.append(img, caption);
    figures.push(figure);
  }
  $('results').prepend(...figures); // newest request first, its images in seed order
}

/** Shows elapsed time and the server's queue until `done` settles. */
function watchQueue(started, done) {
  let stopped = false;
  done.finally(() => {
    stopped = true;
  });
  const tick = async () => {
    while (!stopped) {
      let queue;
      try {
        const health = await (await fetch('health', { cache: 'no-store' })).json();
        queue = ` · ${health.queue_size} in the server's queue`;
      } catch {
        queue = '';
      }
      if (stopped) return;
      setStatus(`Generating… ${((performance.now() - started) / 1000).toFixed(1)} s${queue}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };
  void tick();
}

async function generate(event) {
  event.preventDefault();
  if (!state.config) return;
  setError('');
  state.apiKey = $('api-key').value;
  const body = requestBody();
  const headers = { 'Content-Type': 'application/json' };
  if (state.apiKey) headers.Authorization = `Bearer ${state.apiKey}`;
  $('generate').disabled = true;
  const started = performance.now();
  const done = fetch('v1/images/generations', { method: 'POST', headers, body: JSON.stringify(body) });
  watchQueue(started, done);
  try {
    const response = await done;
    const answer = await response.json().catch(() => undefined);
    const seconds = (performance.now() - started) / 1000;
    if (!response.ok) {
      setStatus('');
      setError(errorMessage(response.status, answer));
      if (response.status === 401) show($('key-row'), true);
      return;
    }
    showImages(answer.data, body, seconds);
    setStatus(`Done in ${seconds.toFixed(1)} s.`);
  } catch (error) {
    setStatus('');
    setError(`Request failed: ${error.message}`);
  } finally {
    $('generate').disabled = false;
  }
}

$('form').addEventListener('submit', (event) => void generate(event));
void loadConfig();
