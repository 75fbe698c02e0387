import type protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_LOG_FIELDS, RESPONSE_FLAG } from '../../../../src/grpc/access-log-decoder.js';
import { ACCESS_LOG_SERVICE_DEFINITION } from '../../../../src/grpc/access-log-service.js';
import { envoyAccessLogRoot } from '../../../support/envoy-access-log.js';

/*
 * The access-log decoder reads field numbers it holds as constants; these tests
 * compare every one of them with Envoy's .proto files in @grpc/grpc-js-xds, so
 * a wrong number fails here instead of silently reading another field.
 */

let root: protobuf.Root;

beforeAll(async () => {
  root = await envoyAccessLogRoot();
});

describe('access-log field numbers against the @grpc/grpc-js-xds copy of Envoy API', () => {
  it('gives every field the decoder reads the number and kind the .proto gives it', () => {
    let compared = 0;
    for (const [typeName, fields] of Object.entries(ACCESS_LOG_FIELDS)) {
      const type = root.lookupType(typeName);
      for (const [name, id] of Object.entries(fields)) {
        const field = type.fields[name];
        expect(field, `${typeName}.${name}`).toBeDefined();
        expect(field?.id, `${typeName}.${name}`).toBe(id);
        compared++;
      }
    }
    expect(compared).toBe(12);
    const common = root.lookupType('envoy.data.accesslog.v3.AccessLogCommon');
    expect(common.fields.upstream_cluster?.type).toBe('string');
    expect(common.fields.route_name?.type).toBe('string');
    const response = root.lookupType('envoy.data.accesslog.v3.HTTPResponseProperties');
    expect(response.fields.response_code?.resolve().resolvedType?.fullName).toBe(
      '.google.protobuf.UInt32Value',
    );
    const entries = root.lookupType(
      'envoy.service.accesslog.v3.StreamAccessLogsMessage.HTTPAccessLogEntries',
    );
    expect(entries.fields.log_entry?.repeated).toBe(true);
  });

  it('names every boolean of ResponseFlags with its number, and nothing else', () => {
    const flags = root.lookupType('envoy.data.accesslog.v3.ResponseFlags');
    const booleans = Object.fromEntries(
      flags.fieldsArray.filter((f) => f.type === 'bool').map((f) => [f.name, f.id] as const),
    );
    expect({ ...RESPONSE_FLAG }).toEqual(booleans);
    const others = flags.fieldsArray.filter((f) => f.type !== 'bool').map((f) => `${f.name} = ${f.id}`);
    expect(others).toEqual(['unauthorized_details = 13']);
  });

  it('serves StreamAccessLogs at the path Envoy calls, client streaming', () => {
    const service = root.lookupService('envoy.service.accesslog.v3.AccessLogService');
    const method = service.methods.StreamAccessLogs;
    expect(Object.keys(service.methods)).toEqual(['StreamAccessLogs']);
    expect(method?.requestStream).toBe(true);
    expect(Boolean(method?.responseStream)).toBe(false);
    const ours = ACCESS_LOG_SERVICE_DEFINITION.streamAccessLogs;
    expect(ours.path).toBe(`/${service.fullName.slice(1)}/${method?.name}`);
    expect(ours.requestStream).toBe(true);
    expect(ours.responseStream).toBe(false);
    const response = root.lookupType('envoy.service.accesslog.v3.StreamAccessLogsResponse');
    expect(response.fieldsArray).toEqual([]);
  });
});
