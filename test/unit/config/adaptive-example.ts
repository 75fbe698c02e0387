/** DESIGN.md "Adaptive limits" example (comments shortened). */
export const DESIGN_EXAMPLE = `domain: api
adaptive:
  - name: checkout-health        # error-rate AIMD
    type: error_rate
    match: {upstream_cluster: checkout}   # access-log entries that count
    error_threshold: 0.2
    min_samples: 20
    interval: 5s
    decrease: 0.5
    increase: 0.1
    floor: 0.1
  - name: abusers                # penalty box, per value of the node's own key
    type: abuse
    over_limit_ratio: 0.5
    spike: 10
    min_requests: 50
    interval: 10s
    penalty: {factor: 0.1, ttl: 60s, escalate: 2, max_ttl: 1h}   # factor 0 = block
    shadow_mode: true
descriptors:
  - key: path
    value: /checkout
    rate_limit: {unit: second, requests_per_unit: 100}
    adaptive: [checkout-health]
  - key: remote_address
    rate_limit: {unit: minute, requests_per_unit: 600}
    adaptive: [abusers]
`;
