package io.reelay.protocol;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** What a request asks for. Written in lower case on the wire. */
public enum Action {
  GENERATE,
  EDIT,
  UPLOAD,
  EXPORT,
  CREDITS,
  STATE,
  CANCEL;

  @JsonValue
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  @JsonCreator
  public static Action fromWire(String value) {
    for (Action a : values()) {
      if (a.wire().equalsIgnoreCase(value.trim())) {
        return a;
      }
    }
    throw new IllegalArgumentException(
        "unknown action '" + value + "'; expected one of " + allWireNames());
  }

  public static String allWireNames() {
    return Arrays.stream(values()).map(Action::wire).collect(Collectors.joining(", "));
  }

  /** Actions that talk to the agent over {@code /run_sse}. */
  public boolean usesStream() {
    return this == GENERATE || this == EDIT;
  }
}
