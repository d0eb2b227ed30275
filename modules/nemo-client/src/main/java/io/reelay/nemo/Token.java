package io.reelay.nemo;

import java.util.Objects;

/**
 * A backend bearer token. It never prints: {@link #toString()} is redacted so that a token cannot
 * reach a log line, an exception message or an event by accident. Only the client reads {@link
 * #reveal()}, to build the {@code Authorization} header.
 */
public final class Token {

  private final String value;

  private Token(String value) {
    this.value = Objects.requireNonNull(value, "token");
  }

  public static Token of(String value) {
    if (value.isBlank()) {
      throw new IllegalArgumentException("empty token");
    }
    return new Token(value);
  }

  /** The secret itself: for the Authorization header and for encryption at rest, nothing else. */
  public String reveal() {
    return value;
  }

  @Override
  public String toString() {
    return "Token[redacted]";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Token t && t.value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }
}
