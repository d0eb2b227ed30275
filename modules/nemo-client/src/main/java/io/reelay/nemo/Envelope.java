package io.reelay.nemo;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;

/**
 * The two response envelopes of the backend: {@code {code,message,data}} (REST) and {@code
 * {success,data}} (render), plus bare bodies. Business errors arrive either as HTTP 200 with a
 * non-zero {@code code} or as a non-2xx status with the envelope (nemo-api.md §6.2).
 */
final class Envelope {

  private Envelope() {}

  static JsonNode unwrap(int status, byte[] body, String retryAfter) {
    JsonNode n = parse(body);
    boolean ok = status >= 200 && status < 300;
    if (n != null && n.isObject()) {
      if (n.has("code") && n.get("code").canConvertToInt()) {
        int code = n.get("code").asInt();
        if (!ok && (code == status || code < 1000)) {
          // an HTTP status echoed in the envelope (429, 503, …): a transport answer, not a business code
          throw new NemoException.Http(status, reason(n), retryAfter);
        }
        if (code != 0) {
          throw new NemoException.Backend(code, status, reason(n));
        }
        if (ok) {
          return n.path("data");
        }
      }
      if (n.has("success")) {
        if (!n.get("success").asBoolean(false)) {
          if (ok) {
            throw new NemoException.Http(status == 200 ? 422 : status, reason(n), retryAfter);
          }
        } else if (ok) {
          return n.has("data") ? n.get("data") : n;
        }
      }
      if (ok) {
        return n.has("data") && n.get("data").isObject() ? n.get("data") : n;
      }
      throw new NemoException.Http(status, reason(n), retryAfter);
    }
    if (ok) {
      throw new NemoException.Http(502, "answer is not JSON", null);
    }
    throw new NemoException.Http(status, "HTTP " + status, retryAfter);
  }

  private static String reason(JsonNode n) {
    for (String k : new String[] {"message", "error", "detail", "reason"}) {
      if (n.hasNonNull(k)) {
        JsonNode v = n.get(k);
        return v.isTextual() ? v.asText() : v.toString();
      }
    }
    return "no reason given";
  }

  private static JsonNode parse(byte[] body) {
    try {
      return body.length == 0 ? null : Json.mapper().readTree(body);
    } catch (Exception e) {
      return null;
    }
  }
}
