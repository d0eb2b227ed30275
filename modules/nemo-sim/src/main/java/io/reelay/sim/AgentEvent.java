package io.reelay.sim;

import java.util.Map;

/** What the simulated agent says during a turn, before it is put on the wire by {@link SseWire}. */
sealed interface AgentEvent {

  /** A model text reply shown to the user. */
  record Text(String text) implements AgentEvent {}

  /** The agent calls one of its tools; a long-running call (ask_question) is listed in ADK's longRunningToolIds. */
  record ToolCall(String callId, String name, Map<String, Object> args, boolean longRunning) implements AgentEvent {
    ToolCall(String callId, String name, Map<String, Object> args) {
      this(callId, name, args, false);
    }
  }

  /** The turn failed after the stream started: {@code data: {"error":"…"}}, then the stream closes. */
  record StreamError(String message) implements AgentEvent {}

  /** A tool answered (in ADK form: an event with role "user", authored by the agent). */
  record ToolResult(String callId, String name, Map<String, Object> response) implements AgentEvent {}

  /** Still working; rendered as one of several heartbeat forms. */
  enum Heartbeat implements AgentEvent { INSTANCE }
}
