package io.reelay.status;

import io.reelay.protocol.Json;
import io.reelay.protocol.RequestValidation;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.MalformedRequestContentRejection;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.server.directives.RouteDirectives;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every error of the API has one shape: {@code {"error":{"code":…,"message":…}}}. This class
 * builds those answers and the exception/rejection handlers that seal the routes.
 */
final class ApiErrors {

  private static final Logger log = LoggerFactory.getLogger(ApiErrors.class);
  private static final RouteDirectives DIRECTIVES = new AllDirectives() {};

  private ApiErrors() {}

  /** An expected failure with its HTTP status, thrown by routes and answered as JSON. */
  static class ApiException extends RuntimeException {
    final StatusCode status;
    final String code;
    final long retryAfterSeconds; // 0: no Retry-After

    ApiException(StatusCode status, String code, String message) {
      this(status, code, message, 0);
    }

    ApiException(StatusCode status, String code, String message, long retryAfterSeconds) {
      super(message, null, false, false);
      this.status = status;
      this.code = code;
      this.retryAfterSeconds = retryAfterSeconds;
    }
  }

  /** What a 503 that passes in a moment (a store moving, an instance down) tells the client to wait. */
  static final long UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

  /** A 503 the client should retry after {@link #UNAVAILABLE_RETRY_AFTER_SECONDS} (it says so in Retry-After). */
  static ApiException unavailable(String message) {
    return new ApiException(StatusCodes.SERVICE_UNAVAILABLE, "UNAVAILABLE", message, UNAVAILABLE_RETRY_AFTER_SECONDS);
  }

  static ApiException badRequest(String message) {
    return new ApiException(StatusCodes.BAD_REQUEST, "BAD_REQUEST", message);
  }

  static HttpResponse response(StatusCode status, String code, String message) {
    return response(status, code, message, Map.of());
  }

  /** The error shape plus top-level fields next to {@code error} (e.g. the {@code requestId} a 503 is about). */
  static HttpResponse response(StatusCode status, String code, String message, Map<String, ?> extra) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("code", code);
    error.put("message", message);
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("error", error);
    body.putAll(extra);
    return HttpResponse.create()
        .withStatus(status)
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, Json.bytes(body)));
  }

  /** Whether {@code e} (or what it wraps) is a timeout: ours or Kafka's. */
  static boolean isTimeout(Throwable e) {
    Throwable t = unwrap(e);
    return t instanceof TimeoutException || t instanceof org.apache.kafka.common.errors.TimeoutException;
  }

  static Throwable unwrap(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  static HttpResponse notFound(String message) {
    return response(StatusCodes.NOT_FOUND, "NOT_FOUND", message);
  }

  static String codeFor(StatusCode status) {
    return switch (status.intValue()) {
      case 400 -> "BAD_REQUEST";
      case 401 -> "UNAUTHORIZED";
      case 403 -> "FORBIDDEN";
      case 404 -> "NOT_FOUND";
      case 405 -> "METHOD_NOT_ALLOWED";
      case 406 -> "NOT_ACCEPTABLE";
      case 408 -> "REQUEST_TIMEOUT";
      case 413 -> "PAYLOAD_TOO_LARGE";
      case 415 -> "UNSUPPORTED_MEDIA_TYPE";
      case 416 -> "RANGE_NOT_SATISFIABLE";
      case 500 -> "INTERNAL";
      case 502 -> "BAD_GATEWAY";
      case 503 -> "UNAVAILABLE";
      default -> "HTTP_" + status.intValue();
    };
  }

  private static HttpResponse tooLarge(EntityStreamSizeException big) {
    return response(StatusCodes.PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "the body is larger than " + big.limit()
        + " bytes, the most a request may be (reelay.status.limits.max-body-bytes); a request is small JSON, its text"
        + " at most " + RequestValidation.MAX_TEXT_CHARS + " characters");
  }

  static RejectionHandler rejectionHandler() {
    return RejectionHandler.newBuilder()
        .handleNotFound(DIRECTIVES.complete(notFound("no such resource")))
        // a body over withSizeLimit arrives as malformed content: say which limit, in our shape
        .handle(MalformedRequestContentRejection.class, r -> DIRECTIVES.complete(r.getCause() instanceof EntityStreamSizeException big
            ? tooLarge(big)
            : response(StatusCodes.BAD_REQUEST, "BAD_REQUEST", "the body could not be read: " + r.message())))
        .build()
        .withFallback(RejectionHandler.defaultHandler())
        .mapRejectionResponse(ApiErrors::asJson);
  }

  static ExceptionHandler exceptionHandler() {
    return ExceptionHandler.newBuilder().matchAny(e -> DIRECTIVES.complete(forException(e))).build();
  }

  static HttpResponse forException(Throwable e) {
    Throwable t = unwrap(e);
    if (t instanceof ApiException api) {
      HttpResponse r = response(api.status, api.code, api.getMessage());
      return api.retryAfterSeconds > 0 ? r.addHeader(RetryAfter.create(api.retryAfterSeconds)) : r;
    }
    if (t instanceof EntityStreamSizeException big) {
      return tooLarge(big);
    }
    if (isTimeout(t)) {
      return response(StatusCodes.SERVICE_UNAVAILABLE, "UNAVAILABLE", "timed out; try again later");
    }
    log.error("unexpected error while answering a request", t);
    return response(StatusCodes.INTERNAL_SERVER_ERROR, "INTERNAL", "internal error");
  }

  /** The default rejection answers are plain text: wrap them in our JSON error shape. */
  private static HttpResponse asJson(HttpResponse r) {
    HttpEntity entity = r.entity();
    if (entity.getContentType().equals(ContentTypes.APPLICATION_JSON)) {
      return r;
    }
    String text = "";
    if (entity instanceof HttpEntity.Strict strict) {
      text = strict.getData().decodeString(StandardCharsets.UTF_8);
    }
    if (text.isBlank()) {
      text = r.status().reason();
    }
    return response(r.status(), codeFor(r.status()), text).withHeaders(r.getHeaders());
  }

  static Route complete(HttpResponse r) {
    return DIRECTIVES.complete(r);
  }
}
