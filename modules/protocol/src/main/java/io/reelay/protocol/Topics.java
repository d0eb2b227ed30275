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

  /**
   * The key of a request's records on {@code events} and {@code completions}: {@code
   * tenant/requestId}. Tenants choose their requestIds, so only the pair names one request; valid
   * ids hold no '/', so the requestId is what follows the last one.
   */
  public static String requestKey(String tenant, String requestId) {
    return (tenant == null || tenant.isBlank() ? Request.DEFAULT_TENANT : tenant) + "/" + requestId;
  }

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
