package io.reelay.sim;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Counters reported by {@code GET /_sim/stats}; a reset swaps in a fresh instance. */
final class SimStats {

  private final ConcurrentHashMap<String, LongAdder> calls = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, LongAdder> faults = new ConcurrentHashMap<>();
  final LongAdder tokensIssued = new LongAdder();
  final LongAdder sessionsCreated = new LongAdder();
  final LongAdder messages = new LongAdder();
  final LongAdder repeatedMessages = new LongAdder();
  /** Charged messages (credits frozen, turn run) whose text an earlier charged message of the session had. */
  final LongAdder chargedTwice = new LongAdder();
  final LongAdder generations = new LongAdder();
  final LongAdder edits = new LongAdder();
  final LongAdder silentEdits = new LongAdder();
  final LongAdder renderSubmits = new LongAdder();
  final LongAdder duplicateRenderSubmits = new LongAdder();
  final LongAdder rendersCompleted = new LongAdder();
  final LongAdder creditsSpent = new LongAdder();
  final LongAdder missingAttribution = new LongAdder();
  final LongAdder streamsOpened = new LongAdder();
  final LongAdder textTurns = new LongAdder();
  final LongAdder questionsAsked = new LongAdder();
  final LongAdder streamErrors = new LongAdder();
  final LongAdder hangingStreams = new LongAdder();
  final LongAdder tempIssues = new LongAdder();
  final LongAdder crashedTurns = new LongAdder();
  final LongAdder creditsLeaked = new LongAdder();
  final LongAdder uploads = new LongAdder();
  final LongAdder filesUploaded = new LongAdder();
  final LongAdder tokensRefused = new LongAdder();
  final LongAdder sessionsExpired = new LongAdder();
  final LongAdder sessionsEvicted = new LongAdder();
  final AtomicLong activeStreams = new AtomicLong();
  final AtomicLong maxActiveStreams = new AtomicLong();

  void call(String endpoint) {
    calls.computeIfAbsent(endpoint, k -> new LongAdder()).increment();
  }

  void fault(String fault) {
    faults.computeIfAbsent(fault, k -> new LongAdder()).increment();
  }

  void streamOpened() {
    streamsOpened.increment();
    maxActiveStreams.accumulateAndGet(activeStreams.incrementAndGet(), Math::max);
  }

  void streamClosed() {
    activeStreams.decrementAndGet();
  }

  Map<String, Object> snapshot() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("calls", sums(calls));
    out.put("tokensIssued", tokensIssued.sum());
    out.put("sessionsCreated", sessionsCreated.sum());
    out.put("messages", messages.sum());
    out.put("repeatedMessages", repeatedMessages.sum());
    out.put("chargedTwice", chargedTwice.sum());
    out.put("generations", generations.sum());
    out.put("edits", edits.sum());
    out.put("silentEdits", silentEdits.sum());
    out.put("renderSubmits", renderSubmits.sum());
    out.put("duplicateRenderSubmits", duplicateRenderSubmits.sum());
    out.put("rendersCompleted", rendersCompleted.sum());
    out.put("creditsSpent", creditsSpent.sum());
    out.put("missingAttribution", missingAttribution.sum());
    out.put("textTurns", textTurns.sum());
    out.put("questionsAsked", questionsAsked.sum());
    out.put("streamErrors", streamErrors.sum());
    out.put("hangingStreams", hangingStreams.sum());
    out.put("tempIssues", tempIssues.sum());
    out.put("crashedTurns", crashedTurns.sum());
    out.put("creditsLeaked", creditsLeaked.sum());
    out.put("uploads", uploads.sum());
    out.put("filesUploaded", filesUploaded.sum());
    out.put("tokensRefused", tokensRefused.sum());
    out.put("sessionsExpired", sessionsExpired.sum());
    out.put("sessionsEvicted", sessionsEvicted.sum());
    out.put("streamsOpened", streamsOpened.sum());
    out.put("activeStreams", activeStreams.get());
    out.put("maxActiveStreams", maxActiveStreams.get());
    out.put("faultsInjected", sums(faults));
    return out;
  }

  private static Map<String, Long> sums(Map<String, LongAdder> adders) {
    Map<String, Long> out = new TreeMap<>();
    adders.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }
}
