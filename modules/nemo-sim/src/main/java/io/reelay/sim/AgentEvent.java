package io.reelay.sim;

import java.util.Map;

/** What the simulated agent says during a turn, before it is put on the wire by {@link SseWire}. */
sealed interface AgentEvent {

  /** A model text reply shown to the user. */
  record Text(String text) implements AgentEvent {}

  /** The agent calls one of its tools. */
  record ToolCall(String callId, String name, Map<String, Object> args) implements AgentEvent {}

  /** A tool answered (in ADK form: an event with role "user", authored by the agent). */
  record ToolResult(String callId, String name, Map<String, Object> response) implements AgentEvent {}

  /** Still working; rendered as one of several heartbeat forms. */
  enum Heartbeat implements AgentEvent { INSTANCE }
}
