package io.reelay.loadtest.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads a part's Prometheus {@code /metrics}: the sum of a metric's samples whose labels contain a filter. */
public final class Metrics {

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private Metrics() {}

  /** The text of {@code baseUrl/metrics}. */
  public static String scrape(String baseUrl) throws IOException, InterruptedException {
    return HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + "/metrics")).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  /** The sum of every sample of {@code metric} (exact name) whose label set contains {@code labelFilter} ("" for all). */
  public static double sum(String text, String metric, String labelFilter) {
    Pattern line = Pattern.compile("^" + Pattern.quote(metric) + "(\\{[^}]*\\})?\\s+([0-9.eE+-]+|NaN)\\s*$", Pattern.MULTILINE);
    Matcher m = line.matcher(text);
    double total = 0;
    while (m.find()) {
      String labels = m.group(1) == null ? "" : m.group(1);
      if (labels.contains(labelFilter) && !m.group(2).equals("NaN")) {
        total += Double.parseDouble(m.group(2));
      }
    }
    return total;
  }

  /** A timer's or summary's mean ({@code _sum} over {@code _count}) over the samples matching {@code labelFilter}; NaN without any. */
  public static double mean(String text, String metric, String labelFilter) {
    double count = sum(text, metric + "_count", labelFilter);
    return count == 0 ? Double.NaN : sum(text, metric + "_sum", labelFilter) / count;
  }
}
