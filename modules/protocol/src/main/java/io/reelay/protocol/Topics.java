package io.reelay.protocol;

/**
 * The names of Reelay's topics. Production uses {@link #DEFAULT}; tests use {@link #withPrefix} so
 * that every test gets fresh topics on a shared broker.
 */
public record Topics(String requests, String events, String completions, String sessions, String dlq) {

  public static final Topics DEFAULT = withPrefix("reelay");

  /**
   * The header of a completions record that carries its request's {@code callbackUrl} (for the
   * webhook dispatcher; kept out of the event, which anyone reading the request's status sees).
   */
  public static final String CALLBACK_URL_HEADER = "reelay-callback-url";

  /** {@code withPrefix("t42")} gives {@code t42.requests}, {@code t42.events}, … */
  public static Topics withPrefix(String prefix) {
    return new Topics(
        prefix + ".requests",
        prefix + ".events",
        prefix + ".completions",
        prefix + ".sessions",
        prefix + ".dlq");
  }
}
