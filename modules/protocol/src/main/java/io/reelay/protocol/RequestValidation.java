package io.reelay.protocol;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Checks a parsed {@link Request} before any work starts. Every problem is phrased so that the
 * person who sent the request knows what to change.
 */
public final class RequestValidation {

  /** Ids name Kafka records, render jobs and URLs: keep them printable and bounded. */
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9._:@\\-]{1,128}");

  public static final int MAX_TEXT_CHARS = 8_000;

  private RequestValidation() {}

  /** @return the problems found; empty when the request can run */
  public static List<String> problems(Request r) {
    List<String> p = new ArrayList<>();
    if (r.v() != Request.VERSION) {
      p.add("unsupported message version v=" + r.v() + "; this worker reads v=" + Request.VERSION);
    }
    if (r.requestId() == null || r.requestId().isBlank()) {
      p.add("requestId is required");
    } else if (!ID.matcher(r.requestId()).matches()) {
      p.add("requestId must be 1-128 characters of A-Z a-z 0-9 . _ : @ -");
    }
    if (r.sessionKey() == null || r.sessionKey().isBlank()) {
      p.add("sessionKey is required");
    } else if (!ID.matcher(r.sessionKey()).matches()) {
      p.add("sessionKey must be 1-128 characters of A-Z a-z 0-9 . _ : @ -");
    }
    if (r.tenant() != null && !r.tenant().isBlank() && !ID.matcher(r.tenant()).matches()) {
      // it names the session (and its backend client id) with the sessionKey: same rules
      p.add("tenant must be 1-128 characters of A-Z a-z 0-9 . _ : @ - (or left out for the default tenant)");
    }
    if (r.text() != null && r.text().length() > MAX_TEXT_CHARS) {
      p.add("text is longer than " + MAX_TEXT_CHARS + " characters");
    }
    tooLong(p, "language", r.language(), MAX_LANGUAGE_CHARS);
    if (r.upload() != null) {
      tooLong(p, "upload.url", r.upload().url(), MAX_CALLBACK_CHARS);
      tooLong(p, "upload.path", r.upload().path(), MAX_PATH_CHARS);
      tooLong(p, "upload.fileName", r.upload().fileName(), MAX_NAME_CHARS);
      tooLong(p, "upload.contentType", r.upload().contentType(), MAX_NAME_CHARS);
    }
    if (r.output() != null) {
      tooLong(p, "output.format", r.output().format(), MAX_OPTION_CHARS);
      tooLong(p, "output.quality", r.output().quality(), MAX_OPTION_CHARS);
    }
    Action a = r.effectiveAction();
    if (a.usesStream() && (r.text() == null || r.text().isBlank())) {
      p.add("text is required for " + a.wire() + ": say what the video should show");
    }
    if (a == Action.CANCEL && (r.cancels() == null || r.cancels().isBlank())) {
      p.add("cancels is required for cancel: the requestId to stop");
    } else if (r.cancels() != null && !r.cancels().isBlank() && !ID.matcher(r.cancels()).matches()) {
      p.add("cancels must be a requestId: 1-128 characters of A-Z a-z 0-9 . _ : @ -");
    }
    if (a == Action.UPLOAD) {
      Request.Upload u = r.upload();
      if (u == null || ((u.url() == null || u.url().isBlank()) && (u.path() == null || u.path().isBlank()))) {
        p.add("upload needs upload.url or upload.path");
      }
    }
    if (r.callbackUrl() != null && !r.callbackUrl().isBlank()) {
      String why = callbackProblem(r.callbackUrl());
      if (why != null) {
        p.add("callbackUrl " + why);
      }
    }
    return p;
  }

  /** Longest callback URL (and upload.url) accepted. */
  public static final int MAX_CALLBACK_CHARS = 2_048;
  /** Longest language tag (BCP 47 tags in use are far shorter). */
  public static final int MAX_LANGUAGE_CHARS = 35;
  /** Longest upload.path, relative to the tenant's media directory. */
  public static final int MAX_PATH_CHARS = 1_024;
  /** Longest upload.fileName and upload.contentType. */
  public static final int MAX_NAME_CHARS = 255;
  /** Longest output.format and output.quality. */
  public static final int MAX_OPTION_CHARS = 32;

  private static void tooLong(List<String> problems, String field, String value, int max) {
    if (value != null && value.length() > max) {
      problems.add(field + " is longer than " + max + " characters");
    }
  }

  /**
   * Why {@code url} cannot take webhooks, or null when it can. Strict on purpose: whatever passes
   * here is a URL every HTTP client can send to (pekko-http's {@code Uri} included), so a webhook
   * never fails later on its address: printable ASCII only (percent-encode the rest), http or
   * https, a host, a port in 1-65535 or none, no user info, no fragment.
   */
  public static String callbackProblem(String url) {
    if (url.length() > MAX_CALLBACK_CHARS) {
      return "is longer than " + MAX_CALLBACK_CHARS + " characters";
    }
    for (int i = 0; i < url.length(); i++) {
      char c = url.charAt(i);
      if (c <= 0x20 || c >= 0x7f) {
        return "is not a URL (" + (c == ' ' ? "a space" : String.format("character U+%04X", (int) c)) + " at index " + i
            + "; percent-encode it)";
      }
    }
    URI u;
    try {
      u = new URI(url);
    } catch (URISyntaxException e) {
      return "is not a URL (" + e.getReason() + " at index " + e.getIndex() + ")";
    }
    String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      return "must be an http:// or https:// URL";
    }
    if (u.getRawAuthority() == null || u.getRawAuthority().isBlank()) {
      return "must name a host";
    }
    try {
      u = u.parseServerAuthority(); // a host name, IPv4 or [IPv6] literal and a numeric port, or it fails
    } catch (URISyntaxException e) {
      return "has no valid host and port (" + e.getReason() + ")";
    }
    if (u.getHost() == null || u.getHost().isBlank()) {
      return "must name a host";
    }
    if (u.getRawUserInfo() != null) {
      return "must not carry credentials (user:password@); webhooks are signed with the tenant's secret (reelay.webhooks.secrets) instead";
    }
    if (u.getHost().indexOf('%') >= 0) {
      return "must not name an IPv6 zone (%…); use an address or a host name";
    }
    if (u.getRawAuthority().endsWith(":")) {
      return "has an empty port after ':'; leave the ':' out or give a port";
    }
    if (u.getPort() != -1 && (u.getPort() < 1 || u.getPort() > 65_535)) {
      return "has port " + u.getPort() + "; a port is 1-65535";
    }
    if (u.getRawFragment() != null) {
      return "must not have a #fragment (it is never sent to the receiver)";
    }
    return null;
  }
}
