package io.reelay.status;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.reelay.protocol.Json;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Signed links to a request's video, {@code /media/{requestId}?tenant=…&expires=…&sig=…}, and the
 * route that hands them out ({@code GET /v1/requests/{id}/media-link}). A {@code <video src>}
 * cannot send a Bearer header, so the link itself is the credential: {@code sig} is the unpadded
 * base64url HMAC-SHA256 of {@code tenant + "\n" + requestId + "\n" + expires} (unix seconds) under
 * {@code reelay.status.media-links.key}, compared in constant time. The key never reaches a log or
 * {@link #toString()}.
 */
final class MediaLinks extends AllDirectives {

  /** The setting the key comes from, for messages. */
  static final String KEY_SETTING = "reelay.status.media-links.key (REELAY_MEDIA_LINK_KEY)";

  static final int KEY_BYTES = 32;

  /**
   * {@code reelay.status.media-links}.
   *
   * @param key the HMAC key; null: a random key of this process (links work on this instance only)
   */
  record Settings(byte[] key, Duration ttl, Duration upstreamTimeout, int upstreamConnections, int maxRedirects,
      List<String> hosts) {
    Settings {
      if (ttl.isNegative() || ttl.isZero() || upstreamTimeout.isNegative() || upstreamTimeout.isZero()) {
        throw new IllegalArgumentException("reelay.status.media-links: ttl and upstream-timeout must be positive");
      }
      if (upstreamConnections < 1 || maxRedirects < 0) {
        throw new IllegalArgumentException("reelay.status.media-links: upstream-connections must be at least 1, max-redirects at least 0");
      }
    }

    static Settings from(Config c) {
      return new Settings(parseKey(c.getString("key")), c.getDuration("ttl"), c.getDuration("upstream-timeout"),
          c.getInt("upstream-connections"), c.getInt("max-redirects"), hosts(c.getString("hosts")));
    }

    /** {@code hosts}: names separated by commas, each exact or {@code *.domain} (any name below it). */
    static List<String> hosts(String csv) {
      return Arrays.stream(csv.split(",")).map(h -> h.trim().toLowerCase(Locale.ROOT)).filter(h -> !h.isEmpty()).toList();
    }

    /** Whether videos may be fetched from {@code host} (the download URL's, or a redirect's). */
    boolean allows(String host) {
      String h = host.toLowerCase(Locale.ROOT);
      if (h.startsWith("[") && h.endsWith("]")) {
        h = h.substring(1, h.length() - 1);
      }
      for (String allowed : hosts) {
        if (allowed.startsWith("*.") ? h.endsWith(allowed.substring(1)) : h.equals(allowed)) {
          return true;
        }
      }
      return false;
    }

    @Override
    public String toString() {
      return "MediaLinks.Settings[key=" + (key == null ? "random per process" : "set") + ", ttl=" + ttl
          + ", upstreamTimeout=" + upstreamTimeout + ", upstreamConnections=" + upstreamConnections
          + ", maxRedirects=" + maxRedirects + ", hosts=" + hosts + "]";
    }
  }

  /** What a presented link is. */
  enum Verdict { VALID, EXPIRED, INVALID }

  /** A link and when it stops working. */
  record Link(String url, Instant expiresAt) {}

  private final SecretKeySpec key;
  private final Duration ttl;
  private final StatusQueries view;

  MediaLinks(Settings settings, StatusQueries view) {
    byte[] bytes = settings.key();
    if (bytes == null) {
      bytes = new byte[KEY_BYTES];
      new SecureRandom().nextBytes(bytes);
    }
    this.key = new SecretKeySpec(bytes, "HmacSHA256");
    this.ttl = settings.ttl();
    this.view = view;
  }

  /**
   * The key of the setting: empty is null (a random key per process); otherwise the base64 (or
   * base64url) of at least {@value #KEY_BYTES} bytes. Messages never show the value.
   */
  static byte[] parseKey(String value) {
    if (value == null || value.isBlank()) {
      return null;
    }
    String v = value.trim();
    byte[] bytes;
    try {
      bytes = v.indexOf('-') >= 0 || v.indexOf('_') >= 0 ? Base64.getUrlDecoder().decode(v) : Base64.getDecoder().decode(v);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(KEY_SETTING + " is not base64; make one with: openssl rand -base64 32");
    }
    if (bytes.length < KEY_BYTES) {
      throw new IllegalArgumentException(KEY_SETTING + " decodes to " + bytes.length + " bytes, fewer than " + KEY_BYTES
          + "; make one with: openssl rand -base64 32");
    }
    return bytes;
  }

  /** A link to {@code requestId}'s video for {@code tenant}, valid for the configured ttl from {@code now}. */
  Link link(String tenant, String requestId, Instant now) {
    long expires = now.getEpochSecond() + Math.max(1, ttl.toSeconds());
    String url = "/media/" + pathSegment(requestId) + "?tenant=" + query(tenant) + "&expires=" + expires
        + "&sig=" + signature(tenant, requestId, expires);
    return new Link(url, Instant.ofEpochSecond(expires));
  }

  /** Whether the query of a {@code /media/{requestId}} call is a link this key made, and whether it still holds at {@code now}. */
  Verdict verify(String tenant, String requestId, String expires, String sig, Instant now) {
    if (tenant == null || expires == null || sig == null || !expires.matches("[0-9]{1,18}")
        || tenant.indexOf('\n') >= 0 || requestId.indexOf('\n') >= 0) {
      return Verdict.INVALID;
    }
    long at = Long.parseLong(expires);
    byte[] expected = signature(tenant, requestId, at).getBytes(StandardCharsets.US_ASCII);
    if (!MessageDigest.isEqual(expected, sig.getBytes(StandardCharsets.UTF_8))) {
      return Verdict.INVALID;
    }
    return now.getEpochSecond() > at ? Verdict.EXPIRED : Verdict.VALID;
  }

  /** {@code sig}: unpadded base64url HMAC-SHA256 of {@code tenant \n requestId \n expires}. */
  String signature(String tenant, String requestId, long expires) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      byte[] h = mac.doFinal((tenant + "\n" + requestId + "\n" + expires).getBytes(StandardCharsets.UTF_8));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(h);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  /** {@code GET /v1/requests/{id}/media-link}, under {@code /v1/requests}, for a caller of {@code tenant}. */
  Route route(String tenant) {
    return path(PathMatchers.segment().slash("media-link"), id -> get(() -> answer(tenant, id)));
  }

  private Route answer(String tenant, String id) {
    return onSuccess(view.status(tenant, id), status -> answer(tenant, id, status));
  }

  private Route answer(String tenant, String id, Optional<RequestStatus> status) {
    if (status.isEmpty()) {
      return complete(ApiErrors.notFound("no request " + id));
    }
    if (downloadUrl(status.get()) == null) {
      String why = status.get().latest().isTerminal()
          ? "request " + id + " has no video: only a completed export makes one (submit an export in its session)"
          : "request " + id + " has no video yet: it is " + status.get().latest().state();
      return complete(ApiErrors.response(StatusCodes.CONFLICT, "NO_VIDEO", why));
    }
    Link link = link(tenant, id, Instant.now());
    ObjectNode body = Json.mapper().createObjectNode();
    body.put("url", link.url());
    body.put("expiresAt", link.expiresAt().toString());
    // the link is a credential: no cache keeps it
    return complete(RequestRoutes.json(StatusCodes.OK, body).addHeader(RawHeader.create("Cache-Control", "no-store")));
  }

  /** The backend's URL of the request's video, if its latest status has one. */
  static String downloadUrl(RequestStatus status) {
    var result = status.latest().result();
    return result == null || result.downloadUrl() == null || result.downloadUrl().isBlank() ? null : result.downloadUrl();
  }

  /** Percent-encodes all but RFC 3986 unreserved characters (a requestId is one path segment). */
  static String pathSegment(String s) {
    StringBuilder out = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if (c < 0x80 && (Character.isLetterOrDigit(c) || "-._~".indexOf(c) >= 0)) {
        out.append(c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
            .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
      }
    }
    return out.toString();
  }

  private static String query(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  @Override
  public String toString() {
    return "MediaLinks[ttl=" + ttl + "]";
  }
}
