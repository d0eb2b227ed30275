package io.reelay.nemo;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What the agent said on a {@code /run_sse} stream, after the tolerant parsing of nemo-api.md §5.3.
 * Both wire forms (ADK Events and type-tagged objects) map onto these.
 */
public sealed interface AgentEvent {

  /**
   * Text for the user. {@code partial} deltas are followed by one non-partial event carrying the
   * whole text, which replaces them: show only non-partial texts to avoid doubled text.
   */
  record Text(String text, boolean partial, String author) implements AgentEvent {}

  /** The agent called a tool (internal; e.g. {@code generate_video_with_seedance}). */
  record ToolCall(String name, JsonNode args) implements AgentEvent {}

  /** A tool answered (internal). */
  record ToolResult(String name) implements AgentEvent {}

  /** The backend is still working: a comment line, an empty {@code data:} or a heartbeat object. */
  enum Heartbeat implements AgentEvent {
    INSTANCE
  }

  /** A non-fatal agent error ({@code errorCode}/{@code errorMessage} on an Event). */
  record AgentError(String code, String message) implements AgentEvent {}
}
