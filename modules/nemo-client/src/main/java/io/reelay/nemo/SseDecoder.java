package io.reelay.nemo;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The tolerant SSE reader of nemo-api.md §5.3, as a small line-driven state machine (one instance
 * per stream, not thread-safe). Lines go in; {@link AgentEvent}s come out.
 *
 * <p>Written by hand rather than with pekko-http's event-stream unmarshaller, which hides comment
 * heartbeats and empty {@code data:} events and drops a last event that lacks its blank line.
 */
final class SseDecoder {

  /** The stream said it is finished ({@code [DONE]} or a {@code done} event). */
  static final class EndOfStream extends RuntimeException {
    EndOfStream() {
      super(null, null, false, false);
    }
  }

  private final StringBuilder data = new StringBuilder();
  private boolean hasData;
  // collected partial deltas of the current (author, invocation), replaced by the final text
  private final StringBuilder partialText = new StringBuilder();
  private String partialAuthor;
  private String partialInvocation;
  private boolean ended;

  /** Feeds one line (without its line terminator). */
  List<AgentEvent> onLine(String rawLine) {
    String line = rawLine.endsWith("\r") ? rawLine.substring(0, rawLine.length() - 1) : rawLine;
    if (ended) {
      return List.of();
    }
    if (line.isEmpty()) {
      return dispatch();
    }
    if (line.startsWith(":")) {
      return List.of(AgentEvent.Heartbeat.INSTANCE);
    }
    int colon = line.indexOf(':');
    String field = colon < 0 ? line : line.substring(0, colon);
    String value = colon < 0 ? "" : line.substring(colon + 1);
    if (value.startsWith(" ")) {
      value = value.substring(1);
    }
    if (field.equals("data")) {
      if (hasData) {
        data.append('\n');
      }
      data.append(value);
      hasData = true;
    }
    // event:, id:, retry: and unknown fields carry nothing we use
    return List.of();
  }

  /** The connection closed: an event still pending counts even without its blank line. */
  List<AgentEvent> onEnd() {
    List<AgentEvent> out = new ArrayList<>(dispatch());
    if (partialText.length() > 0) {
      out.add(new AgentEvent.Text(partialText.toString(), false, partialAuthor));
      partialText.setLength(0);
    }
    return out;
  }

  boolean ended() {
    return ended;
  }

  private List<AgentEvent> dispatch() {
    if (!hasData) {
      return List.of();
    }
    String payload = data.toString();
    data.setLength(0);
    hasData = false;
    if (payload.isBlank()) {
      return List.of(AgentEvent.Heartbeat.INSTANCE);
    }
    if (payload.trim().equals("[DONE]")) {
      ended = true;
      return List.of();
    }
    JsonNode node;
    try {
      node = Json.mapper().readTree(payload);
    } catch (Exception notJson) {
      return List.of(); // unknown payloads are ignored, never shown raw
    }
    if (node == null || !node.isObject()) {
      return List.of();
    }
    return classify(node);
  }

  private List<AgentEvent> classify(JsonNode n) {
    if (n.hasNonNull("type") && n.get("type").isTextual()) {
      return typed(n);
    }
    if (n.has("error") && !n.has("content")) {
      throw new NemoException.Stream("STREAM_ERROR", textOf(n.get("error")));
    }
    List<AgentEvent> out = new ArrayList<>();
    if (n.hasNonNull("errorCode") || n.hasNonNull("errorMessage")) {
      out.add(new AgentEvent.AgentError(n.path("errorCode").asText(""), n.path("errorMessage").asText("")));
    }
    JsonNode parts = n.path("content").path("parts");
    if (parts.isArray()) {
      boolean partial = n.path("partial").asBoolean(false);
      String author = n.path("author").asText(null);
      String invocation = n.path("invocationId").asText(null);
      for (JsonNode p : parts) {
        if (p.hasNonNull("text") && !p.path("thought").asBoolean(false)) {
          out.addAll(text(p.get("text").asText(), partial, author, invocation));
        } else if (p.has("functionCall")) {
          JsonNode fc = p.get("functionCall");
          out.add(new AgentEvent.ToolCall(fc.path("name").asText(""), fc.path("args")));
        } else if (p.has("functionResponse")) {
          out.add(new AgentEvent.ToolResult(p.get("functionResponse").path("name").asText("")));
        }
      }
    }
    return out;
  }

  private List<AgentEvent> typed(JsonNode n) {
    switch (n.get("type").asText()) {
      case "text":
        String t = n.hasNonNull("content") ? textOf(n.get("content")) : n.path("text").asText("");
        return text(t, n.path("partial").asBoolean(false), n.path("author").asText(null), null);
      case "tool_call":
        return List.of(new AgentEvent.ToolCall(n.path("name").asText(""), n.path("args")));
      case "tool_result":
        return List.of(new AgentEvent.ToolResult(n.path("name").asText("")));
      case "heartbeat":
        return List.of(AgentEvent.Heartbeat.INSTANCE);
      case "error":
        throw new NemoException.Stream(
            "STREAM_ERROR",
            textOf(n.hasNonNull("content") ? n.get("content") : n.path("message")));
      case "done":
        ended = true;
        return List.of();
      default:
        return List.of();
    }
  }

  private List<AgentEvent> text(String text, boolean partial, String author, String invocation) {
    if (partial) {
      if (partialText.length() > 0
          && !(Objects.equals(author, partialAuthor) && Objects.equals(invocation, partialInvocation))) {
        partialText.setLength(0);
      }
      partialAuthor = author;
      partialInvocation = invocation;
      partialText.append(text);
      return List.of(new AgentEvent.Text(text, true, author));
    }
    partialText.setLength(0); // the final text replaces the deltas
    if (text.isBlank()) {
      return List.of();
    }
    return List.of(new AgentEvent.Text(text, false, author));
  }

  private static String textOf(JsonNode n) {
    return n == null ? "" : n.isTextual() ? n.asText() : n.toString();
  }
}
