package io.reelay.status;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.reelay.protocol.KafkaTracing;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.server.Complete;
import org.apache.pekko.http.javadsl.server.Directives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.server.RouteResult;

/**
 * A SERVER span around a route that starts a request's trace ({@code POST /v1/requests}, a cancel):
 * the caller's W3C {@code traceparent} is its parent when it sent one, and the route gets the span's
 * context to hand on (to the Kafka record). The span ends with the answer, its status code on it;
 * errors and rejections are answered inside it, so it sees the code the caller gets.
 */
final class ServerSpans {

  private static final TextMapGetter<HttpRequest> FROM_REQUEST = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(HttpRequest req) {
      List<String> names = new ArrayList<>();
      req.getHeaders().forEach(h -> names.add(h.lowercaseName()));
      return names;
    }

    @Override
    public String get(HttpRequest req, String key) {
      return req == null ? null : req.getHeader(key).map(HttpHeader::value).orElse(null);
    }
  };

  private ServerSpans() {}

  /** {@code inner} in a SERVER span named after {@code route} (its template, e.g. {@code /v1/requests/{requestId}/cancel}). */
  static Route traced(String route, String tenant, Function<Context, Route> inner) {
    return Directives.extractRequest(req -> {
      Context parent = KafkaTracing.propagator().extract(Context.root(), req, FROM_REQUEST);
      String method = req.method().value();
      Span span = KafkaTracing.tracer().spanBuilder(method + " " + route)
          .setSpanKind(SpanKind.SERVER)
          .setParent(parent)
          .setAttribute("http.request.method", method)
          .setAttribute("http.route", route)
          .setAttribute("url.path", req.getUri().path())
          .setAttribute("reelay.tenant", tenant)
          .startSpan();
      Context context = parent.with(span);
      return Directives.mapRouteResultFuture(
          result -> result.whenComplete((r, err) -> finish(span, r, err)),
          () -> Directives.handleExceptions(ApiErrors.exceptionHandler(), () ->
              Directives.handleRejections(ApiErrors.rejectionHandler(), () -> inner.apply(context))));
    });
  }

  private static void finish(Span span, RouteResult result, Throwable err) {
    if (result instanceof Complete c) {
      int status = c.getResponse().status().intValue();
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) {
        span.setStatus(StatusCode.ERROR);
      }
    } else {
      span.setStatus(StatusCode.ERROR, err == null ? "rejected" : err.getClass().getSimpleName());
    }
    span.end();
  }
}
