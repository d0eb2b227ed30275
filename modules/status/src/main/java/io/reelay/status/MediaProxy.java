package io.reelay.status;

import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.event.NoLogging;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.http.javadsl.model.headers.ContentDisposition;
import org.apache.pekko.http.javadsl.model.headers.ContentDispositionTypes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /media/{requestId}?tenant=&expires=&sig=}: a request's video, streamed through the
 * status service from the backend's download URL, so a browser that cannot reach the backend (or
 * could not send it a token) still plays it. No API key: the signed link ({@link MediaLinks}) is
 * the credential. The URL fetched is always the one in the request's latest status, never one
 * from the caller; it is never logged nor answered (it may carry the backend's signed token):
 * logs name the requestId and the status only.
 *
 * <p>{@code Range} and {@code If-Range} go upstream; 200, 206 and 416 come back with {@code
 * Content-Length}, {@code Content-Range}, {@code Accept-Ranges}, {@code ETag} and {@code
 * Last-Modified}, the bytes streamed as they arrive (never buffered). Redirects are followed up to
 * {@code max-redirects}, to http(s) URLs only. Anything else from upstream, or no answer within
 * {@code upstream-timeout}, is 502.
 */
final class MediaProxy extends AllDirectives {

  private static final Logger log = LoggerFactory.getLogger(MediaProxy.class);

  private static final ContentType MP4 = MediaTypes.VIDEO_MP4.toContentType();

  /** On every /media answer: whatever upstream sends is never run as a page of this origin. */
  private static final List<HttpHeader> SAFETY = List.of(
      RawHeader.create("X-Content-Type-Options", "nosniff"),
      RawHeader.create("Content-Security-Policy", "default-src 'none'; sandbox"),
      RawHeader.create("Referrer-Policy", "no-referrer"));

  private static final List<String> PASSED_UP = List.of("Range", "If-Range");
  private static final List<String> PASSED_DOWN = List.of("Content-Range", "Accept-Ranges", "ETag", "Last-Modified");

  private final MediaLinks links;
  private final StatusQueries view;
  private final MediaLinks.Settings settings;
  private volatile ConnectionPoolSettings pool;

  MediaProxy(MediaLinks links, StatusQueries view, MediaLinks.Settings settings) {
    this.links = links;
    this.view = view;
    this.settings = settings;
  }

  /** Thrown inside a fetch for an answer that is not the video; becomes 502 (its message is for the log). */
  private static final class NotServed extends RuntimeException {
    NotServed(String message) {
      super(message, null, false, false);
    }
  }

  Route route() {
    return path(PathMatchers.segment("media").slash(PathMatchers.segment()), id -> get(() ->
        respondWithHeaders(SAFETY, () ->
            parameterMap(query -> extractRequest(req -> extractActorSystem(system -> serve(id, query, req, system)))))));
  }

  private Route serve(String id, Map<String, String> query, HttpRequest req, ActorSystem system) {
    MediaLinks.Verdict verdict = links.verify(query.get("tenant"), id, query.get("expires"), query.get("sig"), Instant.now());
    if (verdict != MediaLinks.Verdict.VALID) {
      String message = verdict == MediaLinks.Verdict.EXPIRED
          ? "this media link has expired; get a new one from GET /v1/requests/" + id + "/media-link"
          : "this media link is not valid; get one from GET /v1/requests/" + id + "/media-link";
      return complete(ApiErrors.response(StatusCodes.FORBIDDEN, "FORBIDDEN", message));
    }
    return onSuccess(view.status(query.get("tenant"), id), status -> serve(id, status, query, req, system));
  }

  private Route serve(String id, Optional<RequestStatus> status, Map<String, String> query, HttpRequest req, ActorSystem system) {
    if (status.isEmpty()) {
      return complete(ApiErrors.notFound("no request " + id));
    }
    String url = MediaLinks.downloadUrl(status.get());
    if (url == null) {
      return complete(ApiErrors.response(StatusCodes.CONFLICT, "NO_VIDEO", "request " + id + " has no video"));
    }
    List<HttpHeader> up = new ArrayList<>();
    for (String name : PASSED_UP) {
      req.getHeader(name).ifPresent(up::add);
    }
    boolean attachment = "1".equals(query.get("download"));
    CompletionStage<HttpResponse> answer = fetch(system, id, url, up, settings.maxRedirects())
        .thenApply(r -> relay(system, id, r, attachment))
        .exceptionally(t -> {
          Throwable e = ApiErrors.unwrap(t);
          // the message of a client error may name the URL: the class only
          log.warn("media {}: the video could not be fetched from the backend ({})", id,
              e instanceof NotServed ? e.getMessage() : e.getClass().getSimpleName());
          return ApiErrors.response(StatusCodes.BAD_GATEWAY, "BAD_GATEWAY",
              "the video of request " + id + " could not be fetched from the backend; try again later");
        });
    return completeWithFuture(answer);
  }

  /** GET {@code url} with {@code headers}, following redirects; the final answer (its entity not yet read). */
  private CompletionStage<HttpResponse> fetch(ActorSystem system, String id, String url, List<HttpHeader> headers, int redirectsLeft) {
    Uri uri;
    try {
      uri = upstreamUri(url);
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(new NotServed(e.getMessage()));
    }
    if (!settings.allows(uri.getHost().address())) {
      // the URL came from the backend through an event; whoever could write one must not reach the inside
      return CompletableFuture.failedFuture(new NotServed("a download host not in reelay.status.media-links.hosts"));
    }
    HttpRequest get = HttpRequest.create().withUri(uri).addHeaders(headers);
    CompletableFuture<HttpResponse> head = new CompletableFuture<>();
    Http.get(system).singleRequest(get, Http.get(system).defaultClientHttpsContext(), pool(system), NoLogging.getInstance())
        .whenComplete((r, t) -> {
          if (t != null) {
            head.completeExceptionally(t);
          } else if (!head.complete(r)) {
            r.discardEntityBytes(system); // answered after the timeout: free the connection
          }
        });
    head.orTimeout(settings.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS);
    return head.thenCompose(r -> {
      int code = r.status().intValue();
      Optional<HttpHeader> location = r.getHeader("Location");
      if (code >= 300 && code < 400 && code != 304 && location.isPresent()) {
        r.discardEntityBytes(system);
        if (redirectsLeft <= 0) {
          throw new NotServed("more than " + settings.maxRedirects() + " redirects");
        }
        String next;
        try {
          next = URI.create(url).resolve(location.get().value().trim()).toString();
        } catch (IllegalArgumentException e) {
          throw new NotServed("a redirect to an unreadable location");
        }
        return fetch(system, id, next, headers, redirectsLeft - 1);
      }
      return CompletableFuture.completedFuture(r);
    });
  }

  /** Our answer for the backend's: the video (200, 206), 416 in our error shape, anything else a failure (→ 502). */
  private HttpResponse relay(ActorSystem system, String id, HttpResponse r, boolean attachment) {
    int code = r.status().intValue();
    if (code == 416) {
      r.discardEntityBytes(system);
      HttpResponse out = ApiErrors.response(StatusCodes.RANGE_NOT_SATISFIABLE, "RANGE_NOT_SATISFIABLE",
          "the requested range is not within the video");
      Optional<HttpHeader> range = r.getHeader("Content-Range");
      return range.isPresent() ? out.addHeader(range.get()) : out;
    }
    if (code != 200 && code != 206) {
      r.discardEntityBytes(system);
      throw new NotServed("the backend answered " + code);
    }
    log.debug("media {}: {}", id, code);
    HttpEntity upstream = r.entity();
    // a type other than video/* (none, octet-stream, or a page) is served as MP4, never as what it claims
    ContentType type = upstream.getContentType().mediaType().isVideo() ? upstream.getContentType() : MP4;
    Source<ByteString, ?> bytes = upstream.getDataBytes().mapError(Throwable.class, e -> brokeOff(id, e));
    ResponseEntity entity = upstream.getContentLengthOption().isPresent()
        ? HttpEntities.create(type, upstream.getContentLengthOption().getAsLong(), bytes)
        : HttpEntities.createChunked(type, bytes);
    List<HttpHeader> headers = new ArrayList<>();
    for (String name : PASSED_DOWN) {
      r.getHeader(name).ifPresent(headers::add);
    }
    headers.add(ContentDisposition.create(attachment ? ContentDispositionTypes.ATTACHMENT : ContentDispositionTypes.INLINE,
        Map.of("filename", fileName(id))));
    headers.add(RawHeader.create("Cache-Control", "private"));
    return HttpResponse.create().withStatus(r.status()).withEntity(entity).addHeaders(headers);
  }

  /**
   * A stream from the backend that failed midway (reset, silent past upstream-timeout), logged by its
   * kind: pekko-http logs what a response stream failed with, and the client's message names the
   * backend's host.
   */
  private static Throwable brokeOff(String id, Throwable e) {
    log.warn("media {}: the backend's stream of the video broke off ({})", id, e.getClass().getSimpleName());
    return new NotServed("the backend's stream of the video broke off");
  }

  /** The backend's URL as a pekko URI, if it is an absolute http(s) URL with a host. */
  static Uri upstreamUri(String url) {
    Uri uri;
    try {
      uri = Uri.create(url);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("an unreadable download URL");
    }
    String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost().isEmpty()) {
      throw new IllegalArgumentException("a download URL that is not http(s) with a host");
    }
    return uri;
  }

  static String fileName(String requestId) {
    return requestId.replaceAll("[^A-Za-z0-9._-]", "_") + ".mp4";
  }

  /** One pool per upstream host: sized and timed by media-links; our own logs only (the pool's may name URLs). */
  private ConnectionPoolSettings pool(ActorSystem system) {
    ConnectionPoolSettings p = pool;
    if (p == null) {
      p = ConnectionPoolSettings.create(system)
          .withMaxConnections(settings.upstreamConnections())
          .withMaxOpenRequests(Integer.highestOneBit(Math.max(32, settings.upstreamConnections() * 4) * 2 - 1))
          .withMaxRetries(1)
          .withResponseEntitySubscriptionTimeout(settings.upstreamTimeout())
          .withConnectionSettings(ClientConnectionSettings.create(system)
              .withConnectingTimeout(settings.upstreamTimeout())
              .withIdleTimeout(settings.upstreamTimeout()));
      pool = p;
    }
    return p;
  }
}
