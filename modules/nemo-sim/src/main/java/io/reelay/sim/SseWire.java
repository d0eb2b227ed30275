package io.reelay.sim;

import io.reelay.protocol.Json;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.util.ByteString;

/**
 * Serialises agent events as server-sent events in one of the two wire forms of nemo-api.md §5:
 * ADK camelCase {@code Event} JSON (with empty dicts kept, nulls left out, no {@code id:}/{@code event:}
 * lines), or the vendor's reverted type-tagged form. One instance per stream: it rotates heartbeat forms.
 */
final class SseWire {

  private static final ByteString COMMENT_PING = ByteString.fromString(": ping\n\n");
  private static final ByteString EMPTY_DATA = ByteString.fromString("data:\n\n");
  private static final ByteString JSON_HEARTBEAT = ByteString.fromString("data: {\"type\":\"heartbeat\"}\n\n");

  static final String AUTHOR = "nemo_agent";

  private final SimSettings.SseWireForm form;
  private final String invocationId;
  private final Ids ids;
  private int heartbeats;

  SseWire(SimSettings.SseWireForm form, String invocationId, Ids ids) {
    this.form = form;
    this.invocationId = invocationId;
    this.ids = ids;
  }

  ByteString encode(AgentEvent event) {
    if (event == AgentEvent.Heartbeat.INSTANCE) return heartbeat();
    Object payload = form == SimSettings.SseWireForm.ADK ? adk(event) : typed(event);
    return ByteString.fromString("data: " + Json.string(payload) + "\n\n", StandardCharsets.UTF_8);
  }

  /**
   * ADK itself sends no heartbeats, but the vendor documents comment lines and empty {@code data:}
   * lines; the JSON heartbeat only belongs to the type-tagged form.
   */
  private ByteString heartbeat() {
    int n = heartbeats++;
    if (form == SimSettings.SseWireForm.ADK) return n % 2 == 0 ? COMMENT_PING : EMPTY_DATA;
    return switch (n % 3) {
      case 0 -> COMMENT_PING;
      case 1 -> EMPTY_DATA;
      default -> JSON_HEARTBEAT;
    };
  }

  private Map<String, Object> adk(AgentEvent event) {
    String role = "model";
    Map<String, Object> part = new LinkedHashMap<>();
    if (event instanceof AgentEvent.Text t) {
      part.put("text", t.text());
    } else if (event instanceof AgentEvent.ToolCall c) {
      part.put("functionCall", ordered("id", c.callId(), "args", c.args(), "name", c.name()));
    } else if (event instanceof AgentEvent.ToolResult r) {
      part.put("functionResponse", ordered("id", r.callId(), "name", r.name(), "response", r.response()));
      role = "user"; // as ADK does: a function response is authored by the agent with role "user"
    } else {
      throw new IllegalArgumentException("no ADK form for " + event);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("content", ordered("parts", List.of(part), "role", role));
    out.put("invocationId", invocationId);
    out.put("author", AUTHOR);
    out.put("actions", ordered("stateDelta", Map.of(), "artifactDelta", Map.of(), "requestedAuthConfigs", Map.of()));
    if (event instanceof AgentEvent.ToolCall) out.put("longRunningToolIds", List.of());
    out.put("id", ids.eventId());
    out.put("timestamp", System.currentTimeMillis() / 1000.0);
    return out;
  }

  private static Map<String, Object> typed(AgentEvent event) {
    if (event instanceof AgentEvent.Text t) return ordered("type", "text", "content", t.text());
    if (event instanceof AgentEvent.ToolCall c) return ordered("type", "tool_call", "name", c.name(), "args", c.args());
    if (event instanceof AgentEvent.ToolResult r) return ordered("type", "tool_result", "name", r.name(), "result", r.response());
    return ordered("type", "heartbeat");
  }

  private static Map<String, Object> ordered(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    return m;
  }
}
