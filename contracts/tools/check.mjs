// CI checks of the hub's published interfaces with the ecosystem's own tools (run by .ci/run
// after `npm ci`; fails loudly, exit code 1):
// 1. contracts/asyncapi.yaml parsed and validated by @asyncapi/parser (errors and warnings
//    fail), every message's payload resolved: the envelope with `data` from
//    contracts/schemas/<type>.schema.json;
// 2. a consumer model generated from the document by Modelina (JavaScript, with marshalling)
//    for identity.golden_record.v1, which decodes contracts/examples/identity.golden_record.v1.json
//    (written by the reconciler's tests/golden_example.rs from what its engine builds);
// 3. every contracts/openapi/*.json validated by @apidevtools/swagger-parser.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { Parser, fromFile } from '@asyncapi/parser';
import { JavaScriptGenerator, JS_COMMON_PRESET } from '@asyncapi/modelina';
import SwaggerParser from '@apidevtools/swagger-parser';

const contracts = join(dirname(fileURLToPath(import.meta.url)), '..');

async function asyncapi() {
  const { document, diagnostics } = await fromFile(new Parser(), join(contracts, 'asyncapi.yaml')).parse();
  const bad = diagnostics.filter((d) => d.severity <= 1); // 0 error, 1 warning
  for (const d of bad) console.error(`asyncapi.yaml: ${d.code}: ${d.message} at ${d.path.join('.')}`);
  assert.ok(document && bad.length === 0, 'asyncapi.yaml: the AsyncAPI parser refused it');
  const messages = document.messages().all();
  for (const m of messages) {
    const payload = m.payload().json();
    const data = payload.allOf?.map((s) => s.properties?.data).find((d) => d?.properties);
    assert.ok(data, `${m.name()}: its payload's data is no resolved schema`);
    const schema = JSON.parse(readFileSync(join(contracts, 'schemas', `${m.name()}.schema.json`), 'utf8'));
    assert.deepEqual(Object.keys(data.properties).sort(), Object.keys(schema.properties).sort(),
      `${m.name()}: data is not contracts/schemas/${m.name()}.schema.json`);
  }
  console.log(`asyncapi.yaml: valid; ${messages.length} messages, each with its payload schema`);
  return document;
}

async function goldenRecordConsumer(document) {
  const message = document.messages().all().find((m) => m.name() === 'identity.golden_record.v1');
  const generator = new JavaScriptGenerator({
    moduleSystem: 'CJS',
    presets: [{ preset: JS_COMMON_PRESET, options: { marshalling: true } }],
  });
  const models = await generator.generateCompleteModels(message.payload().json(), {});
  const dir = mkdtempSync(join(tmpdir(), 'hub-modelina-'));
  try {
    writeFileSync(join(dir, 'package.json'), '{"type": "commonjs"}\n');
    for (const m of models) writeFileSync(join(dir, `${m.modelName}.js`), m.result);
    const require = createRequire(join(dir, 'index.js'));
    const Root = require(`./${models[0].modelName}`);
    const text = readFileSync(join(contracts, 'examples', 'identity.golden_record.v1.json'), 'utf8');
    const example = JSON.parse(text);
    const event = new Root({}).unmarshal(text);
    assert.equal(event.type, 'identity.golden_record.v1');
    assert.equal(event.id, example.id);
    assert.equal(event.dataschema, example.dataschema);
    // Modelina's JavaScript unmarshal keeps nested objects as they are: decode `data` with
    // the generated golden-record model (the one of the envelope's data property)
    const dataModel = models.find((m) => /^\s*organisationId;$/m.test(m.result));
    assert.ok(dataModel, 'a generated model for the golden record');
    const GoldenRecord = require(`./${dataModel.modelName}`);
    const g = new GoldenRecord({}).unmarshal(example.data);
    assert.ok(g instanceof GoldenRecord);
    event.data = g;
    const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
    for (const [key, value] of Object.entries(example.data)) {
      const got = g[camel(key)] ?? g[`reserved${camel(key)[0].toUpperCase()}${camel(key).slice(1)}`];
      if (value === null || typeof value !== 'object') {
        assert.equal(got ?? null, value, `data.${key}`);
      } else {
        assert.ok(got !== undefined && got !== null, `data.${key} decoded`);
      }
    }
    assert.equal(g.sourceRefs.length, example.data.source_refs.length);
    assert.equal(g.representative.full_name, example.data.representative.full_name);
    // and back: the model's own JSON carries the same record
    const again = JSON.parse(event.marshal());
    assert.equal(again.data.organisation_id, example.data.organisation_id);
    assert.deepEqual(again.data.source_refs, example.data.source_refs);
    console.log(`modelina: ${models.length} models for identity.golden_record.v1; the example decodes (${Object.keys(example.data).length} fields)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function openapi() {
  const dir = join(contracts, 'openapi');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length > 0, 'no OpenAPI documents in contracts/openapi');
  for (const f of files) {
    const api = await SwaggerParser.validate(join(dir, f));
    assert.equal(api.openapi, '3.1.0', `${f}: OpenAPI 3.1`);
    console.log(`openapi/${f}: valid (${Object.keys(api.paths).length} paths)`);
  }
}

try {
  const document = await asyncapi();
  await goldenRecordConsumer(document);
  await openapi();
} catch (e) {
  console.error(`contracts/tools/check.mjs: ${e.stack ?? e}`);
  process.exit(1);
}
