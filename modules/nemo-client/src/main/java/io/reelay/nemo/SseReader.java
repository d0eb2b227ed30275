package io.reelay.nemo;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.scaladsl.Framing;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;

/**
 * An agent stream's bytes to {@link AgentEvent}s in one stage: lines split at {@code \n}, fed to
 * the {@link SseDecoder}, the stream ended at {@code [DONE]}, and failed when only heartbeats (or
 * nothing) arrived for {@code stall}, when it has run past {@code deadline}, or when the
 * connection broke ({@code STREAM_CUT}).
 *
 * <p>One stage rather than a chain of framing, merge with a tick, statefulMap, takeWhile and
 * mapConcat: every stage of a running stream costs its own logic, connections and callbacks, and a
 * worker holds thousands of these streams at once.
 */
final class SseReader extends GraphStage<FlowShape<ByteString, AgentEvent>> {

  private static final byte NEWLINE = '\n';
  private static final String STALL_CHECK = "stall";
  private static final String DEADLINE = "deadline";

  private final Inlet<ByteString> in = Inlet.create("SseReader.in");
  private final Outlet<AgentEvent> out = Outlet.create("SseReader.out");
  private final FlowShape<ByteString, AgentEvent> shape = FlowShape.of(in, out);
  private final int maxLine;
  private final Duration stall;
  private final long deadlineNanos; // System.nanoTime() by which the stream must have ended; Long.MAX_VALUE = none
  private final AtomicInteger open; // counts the streams running now; null = not counted

  /**
   * @param maxLine longest line accepted, in bytes
   * @param stall how long only heartbeats may arrive
   * @param deadlineNanos {@link System#nanoTime()} by which the stream must end, {@link Long#MAX_VALUE} for none
   * @param open incremented while the stream runs, or null
   */
  SseReader(int maxLine, Duration stall, long deadlineNanos, AtomicInteger open) {
    this.maxLine = maxLine;
    this.stall = stall;
    this.deadlineNanos = deadlineNanos;
    this.open = open;
  }

  @Override
  public FlowShape<ByteString, AgentEvent> shape() {
    return shape;
  }

  @Override
  public GraphStageLogic createLogic(Attributes attributes) {
    return new Logic();
  }

  private final class Logic extends TimerGraphStageLogic {
    private final SseDecoder decoder = new SseDecoder();
    private final ArrayDeque<AgentEvent> pending = new ArrayDeque<>();
    private ByteString partialLine = ByteString.emptyByteString();
    private long lastNews;
    private boolean finishing; // upstream done or [DONE] seen: complete once pending is pushed

    Logic() {
      super(shape);
      setHandler(in, new AbstractInHandler() {
        @Override
        public void onPush() {
          read(grab(in));
          deliver();
        }

        @Override
        public void onUpstreamFinish() {
          if (!finishing) {
            if (!partialLine.isEmpty()) {
              line(partialLine); // a last line without its terminator still counts
            }
            pending.addAll(decoder.onEnd());
            finishing = true;
          }
          deliver();
        }

        @Override
        public void onUpstreamFailure(Throwable e) {
          // a connection lost mid-stream is not a transport retry: the message may be running; never re-send
          failStage(e instanceof NemoException ? e
              : new NemoException.Stream("STREAM_CUT", "the stream broke off: " + e.getMessage()));
        }
      });
      setHandler(out, new AbstractOutHandler() {
        @Override
        public void onPull() {
          deliver();
        }
      });
    }

    @Override
    public void preStart() {
      lastNews = System.nanoTime();
      // a twentieth of the stall, at most 30 s: thousands of streams tick at once
      Duration check = clamp(stall.dividedBy(20), Duration.ofMillis(20), Duration.ofSeconds(30));
      scheduleWithFixedDelay(STALL_CHECK, check, check);
      if (deadlineNanos != Long.MAX_VALUE) {
        scheduleOnce(DEADLINE, Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime())));
      }
      if (open != null) {
        open.incrementAndGet();
      }
    }

    @Override
    public void postStop() {
      if (open != null) {
        open.decrementAndGet();
      }
    }

    @Override
    public void onTimer(Object key) {
      if (DEADLINE.equals(key)) {
        failStage(new NemoException.Stream("SSE_TIMEOUT", "stream open longer than its deadline"));
      } else if (System.nanoTime() - lastNews > stall.toNanos()) {
        failStage(new NemoException.Stream("SSE_STALLED", "only heartbeats for " + stall + ", giving up on the stream"));
      }
    }

    /** Splits a chunk into lines; the bytes after its last line wait for the next chunk. */
    private void read(ByteString chunk) {
      int from = 0;
      int nl;
      while (!finishing && (nl = chunk.indexOf(NEWLINE, from)) >= 0) {
        if (partialLine.size() + nl - from > maxLine) {
          tooLong(partialLine.size() + nl - from);
          return;
        }
        ByteString line = partialLine.isEmpty() ? chunk.slice(from, nl) : partialLine.concat(chunk.slice(from, nl));
        partialLine = ByteString.emptyByteString();
        from = nl + 1;
        line(line);
      }
      if (finishing) {
        return; // [DONE]: whatever follows is not read
      }
      ByteString rest = from == 0 ? chunk : chunk.drop(from);
      if (partialLine.size() + rest.size() > maxLine) {
        tooLong(partialLine.size() + rest.size());
        return;
      }
      partialLine = partialLine.isEmpty() ? rest : partialLine.concat(rest);
    }

    private void line(ByteString bytes) {
      List<AgentEvent> events = decoder.onLine(bytes.utf8String());
      for (AgentEvent e : events) {
        if (!(e instanceof AgentEvent.Heartbeat)) {
          lastNews = System.nanoTime();
        }
      }
      pending.addAll(events);
      if (decoder.ended()) {
        finishing = true; // [DONE] or a done event ends the stream even if the server keeps the connection open
      }
    }

    private void tooLong(int bytes) {
      failStage(new Framing.FramingException(
          "Read " + bytes + " bytes which is more than " + maxLine + " without seeing a line terminator"));
    }

    /** Pushes what is ready, completes once finishing and drained, or asks for more bytes when an event is wanted. */
    private void deliver() {
      if (!pending.isEmpty()) {
        if (isAvailable(out)) {
          push(out, pending.poll());
        }
      } else if (finishing) {
        completeStage();
      } else if (isAvailable(out) && !hasBeenPulled(in) && !isClosed(in)) {
        pull(in);
      }
    }
  }

  private static Duration clamp(Duration d, Duration min, Duration max) {
    return d.compareTo(min) < 0 ? min : d.compareTo(max) > 0 ? max : d;
  }
}
