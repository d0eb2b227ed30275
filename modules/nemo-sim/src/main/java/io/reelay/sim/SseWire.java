package io.reelay.sim;

import io.reelay.protocol.Json;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
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
  private final List<SimSettings.HeartbeatForm> heartbeatForms;
  private final boolean streaming;
  private int heartbeats;

  SseWire(SimSettings.SseWireForm form, String invocationId, Ids ids) {
    this(form, invocationId, ids, List.of(), false);
  }

  /**
   * @param heartbeatForms forms to rotate through; empty = by wire form (ADK: comment + empty data:,
   *     typed: all three)
   * @param streaming the request asked for {@code streaming:true}: each text goes out as partial deltas
   *     first, then once more whole (ADK's behaviour)
   */
  SseWire(SimSettings.SseWireForm form, String invocationId, Ids ids, List<SimSettings.HeartbeatForm> heartbeatForms,
      boolean streaming) {
    this.form = form;
    this.invocationId = invocationId;
    this.ids = ids;
    this.heartbeatForms = !heartbeatForms.isEmpty() ? List.copyOf(heartbeatForms)
        : form == SimSettings.SseWireForm.ADK
            ? List.of(SimSettings.HeartbeatForm.COMMENT, SimSettings.HeartbeatForm.EMPTY_DATA)
            : List.of(SimSettings.HeartbeatForm.COMMENT, SimSettings.HeartbeatForm.EMPTY_DATA, SimSettings.HeartbeatForm.JSON);
    this.streaming = streaming;
  }

  ByteString encode(AgentEvent event) {
    if (event == AgentEvent.Heartbeat.INSTANCE) return heartbeat();
    if (event instanceof AgentEvent.StreamError err) {
      // ADK's fast_api: json.dumps({"error": str(e)}) once the stream has started
      Object payload = form == SimSettings.SseWireForm.ADK ? ordered("error", err.message())
          : ordered("type", "error", "error", err.message());
      return data(payload);
    }
    if (streaming && event instanceof AgentEvent.Text t) {
      ByteString out = ByteString.emptyByteString();
      for (String delta : deltas(t.text())) out = out.concat(data(payload(new AgentEvent.Text(delta), true)));
      return out.concat(data(payload(t, false)));
    }
    return data(payload(event, false));
  }

  private Object payload(AgentEvent event, boolean partial) {
    Map<String, Object> m = form == SimSettings.SseWireForm.ADK ? adk(event) : typed(event);
    if (partial) m.put("partial", true);
    return m;
  }

  private static ByteString data(Object payload) {
    return ByteString.fromString("data: " + Json.string(payload) + "\n\n", StandardCharsets.UTF_8);
  }

  /** The text cut into a few word-aligned chunks, as a model streams tokens. */
  static List<String> deltas(String text) {
    List<String> out = new ArrayList<>();
    int size = Math.max(8, text.length() / 4);
    int start = 0;
    while (start < text.length()) {
      int end = Math.min(text.length(), start + size);
      int space = text.indexOf(' ', end);
      end = space < 0 || space - end > 20 ? end : space + 1;
      out.add(text.substring(start, end));
      start = end;
    }
    return out;
  }

  /** ADK itself sends no heartbeats; the vendor documents comment lines, empty {@code data:} and JSON heartbeats. */
  private ByteString heartbeat() {
    return switch (heartbeatForms.get(heartbeats++ % heartbeatForms.size())) {
      case COMMENT -> COMMENT_PING;
      case EMPTY_DATA -> EMPTY_DATA;
      case JSON -> JSON_HEARTBEAT;
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
    if (event instanceof AgentEvent.ToolCall c) out.put("longRunningToolIds", c.longRunning() ? List.of(c.callId()) : List.of());
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
