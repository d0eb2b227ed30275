package io.reelay.protocol;

/**
 * The names of Reelay's topics. Production uses {@link #DEFAULT}; tests use {@link #withPrefix} so
 * that every test gets fresh topics on a shared broker.
 */
public record Topics(String requests, String events, String completions, String sessions, String dlq) {

  public static final Topics DEFAULT = withPrefix("reelay");

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
