using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Rpc.Transports.Diagnostics;

/// <summary>
/// One side's <see cref="ActivitySource"/>, <see cref="Meter"/> and instruments. Nothing here
/// allocates unless a listener is attached: callers ask <see cref="Source"/>.<c>HasListeners()</c>
/// and <see cref="MetricsEnabled"/> first, and keep per-call state in a <see cref="CallMeasures"/>
/// field of the call object itself.
/// </summary>
internal sealed class RpcInstruments
{
    // Local calls take microseconds: the SDK's default buckets (made for milliseconds) would put every
    // call in the first one. Seconds, from 10 µs up, as ASP.NET Core advises for its request durations.
    private static readonly InstrumentAdvice<double> DurationAdvice = new()
    {
        HistogramBucketBoundaries = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    };

    public static readonly RpcInstruments Client = new(client: true);

    public static readonly RpcInstruments Server = new(client: false);

    private RpcInstruments(bool client)
    {
        var name = client ? RpcTelemetry.ClientName : RpcTelemetry.ServerName;
        Source = new ActivitySource(name);
        Meter = new Meter(name);
        Duration = Meter.CreateHistogram<double>(client ? RpcTelemetry.ClientCallDuration : RpcTelemetry.ServerCallDuration, "s", "Duration of calls, from start to status.",
            tags: null, advice: DurationAdvice);
        RequestSize = Meter.CreateHistogram<long>(client ? RpcTelemetry.ClientRequestSize : RpcTelemetry.ServerRequestSize, "By", "Bytes of request messages per call.");
        ResponseSize = Meter.CreateHistogram<long>(client ? RpcTelemetry.ClientResponseSize : RpcTelemetry.ServerResponseSize, "By", "Bytes of response messages per call.");
        RequestsPerRpc = Meter.CreateHistogram<long>(client ? RpcTelemetry.ClientRequestsPerRpc : RpcTelemetry.ServerRequestsPerRpc, "{message}", "Request messages per call.");
        ResponsesPerRpc = Meter.CreateHistogram<long>(client ? RpcTelemetry.ClientResponsesPerRpc : RpcTelemetry.ServerResponsesPerRpc, "{message}", "Response messages per call.");
        ActiveCalls = Meter.CreateUpDownCounter<long>(client ? RpcTelemetry.ClientActiveCalls : RpcTelemetry.ServerActiveCalls, "{call}", "Calls in progress.");
        Connections = Meter.CreateUpDownCounter<long>(client ? RpcTelemetry.ClientConnections : RpcTelemetry.ServerConnections, "{connection}", "Connections held open.");
    }

    public ActivitySource Source { get; }

    public Meter Meter { get; }

    public Histogram<double> Duration { get; }

    public Histogram<long> RequestSize { get; }

    public Histogram<long> ResponseSize { get; }

    public Histogram<long> RequestsPerRpc { get; }

    public Histogram<long> ResponsesPerRpc { get; }

    public UpDownCounter<long> ActiveCalls { get; }

    public UpDownCounter<long> Connections { get; }

    public bool MetricsEnabled => Duration.Enabled || ActiveCalls.Enabled || RequestSize.Enabled || ResponseSize.Enabled || RequestsPerRpc.Enabled || ResponsesPerRpc.Enabled;

    /// <summary>Call start: the span (when anyone listens) and the start time (when anything is measured).</summary>
    /// <remarks>
    /// The client starts its span on the caller's thread, inside a synchronous method: it puts the
    /// caller's <see cref="Activity.Current"/> back, or the call's span would leak into the caller's
    /// code after the call started.
    /// </remarks>
    public void Begin(ref CallMeasures measures, string fullMethod, ActivityKind kind, ActivityContext parent, string? transport, object? serverAddress, ILogger logger)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            measures.Logged = true;
            measures.StartTimestamp = Stopwatch.GetTimestamp();
            CallLog.Started(logger, RpcTelemetry.SpanName(fullMethod), transport ?? "local");
        }

        if (Source.HasListeners())
        {
            var ambient = Activity.Current;
            var activity = Source.CreateActivity(RpcTelemetry.SpanName(fullMethod), kind, parent);
            if (activity is not null)
            {
                activity.Start();
                if (kind == ActivityKind.Client)
                {
                    Activity.Current = ambient;
                }

                activity.SetTag(RpcTelemetry.SystemName, RpcTelemetry.SystemValue);
                activity.SetTag(RpcTelemetry.Method, RpcTelemetry.SpanName(fullMethod));
                if (transport is not null)
                {
                    activity.SetTag(RpcTelemetry.NetworkTransport, transport);
                }

                if (serverAddress is not null)
                {
                    activity.SetTag(RpcTelemetry.ServerAddress, serverAddress.ToString());
                }

                measures.Activity = activity;
            }
        }

        if (MetricsEnabled)
        {
            measures.Metered = true;
            measures.StartTimestamp = measures.StartTimestamp != 0 ? measures.StartTimestamp : Stopwatch.GetTimestamp();
            if (ActiveCalls.Enabled)
            {
                measures.Counted = true;
                ActiveCalls.Add(1, new KeyValuePair<string, object?>(RpcTelemetry.Method, RpcTelemetry.SpanName(fullMethod)));
            }
        }
    }

    /// <summary>Client: the request headers with W3C <c>traceparent</c>/<c>tracestate</c> for <paramref name="activity"/> added (a copy: the caller's metadata is left alone).</summary>
    public static Metadata? Inject(Metadata? headers, Activity activity)
    {
        var carrier = new Metadata();
        if (headers is not null)
        {
            foreach (var entry in headers)
            {
                carrier.Add(entry);
            }
        }

        DistributedContextPropagator.Current.Inject(activity, carrier, static (state, key, value) =>
        {
            if (state is Metadata metadata && value is not null && metadata.Get(key) is null)
            {
                metadata.Add(key, value);
            }
        });
        return carrier;
    }

    /// <summary>Server: the remote parent named by the request's <c>traceparent</c>/<c>tracestate</c>, if any.</summary>
    public static ActivityContext Extract(Metadata headers)
    {
        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, static (object? state, string name, out string? value, out IEnumerable<string>? values) =>
        {
            values = null;
            value = (state as Metadata)?.GetValue(name);
        }, out var traceParent, out var traceState);
        return traceParent is not null && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
    }

    /// <summary>Call end, once: status on the span, then the call's measurements.</summary>
    public void End(ref CallMeasures measures, string fullMethod, StatusCode code, string? detail, ILogger logger)
    {
        var statusName = RpcTelemetry.StatusName(code);
        if (measures.Activity is { } activity)
        {
            activity.SetTag(RpcTelemetry.ResponseStatusCode, statusName);
            if (code != StatusCode.OK)
            {
                activity.SetTag(RpcTelemetry.ErrorType, statusName);
                activity.SetStatus(ActivityStatusCode.Error, detail);
            }

            activity.Stop();
            measures.Activity = null;
        }

        if (measures.StartTimestamp == 0)
        {
            return;
        }

        var elapsed = Stopwatch.GetElapsedTime(measures.StartTimestamp);
        measures.StartTimestamp = 0;
        var method = RpcTelemetry.SpanName(fullMethod);
        if (measures.Logged)
        {
            CallLog.Finished(logger, method, statusName, elapsed.TotalMilliseconds);
        }

        if (!measures.Metered)
        {
            return;
        }

        var tags = new TagList
        {
            { RpcTelemetry.SystemName, RpcTelemetry.SystemValue },
            { RpcTelemetry.Method, method },
            { RpcTelemetry.ResponseStatusCode, statusName },
        };
        Duration.Record(elapsed.TotalSeconds, tags);
        // Grpc.AspNetCore serializes the HTTP/2 path's messages out of our sight: no sizes rather than zeros.
        if (!measures.MessagesUncounted)
        {
            RequestSize.Record(measures.RequestBytes, tags);
            ResponseSize.Record(measures.ResponseBytes, tags);
            RequestsPerRpc.Record(measures.Requests, tags);
            ResponsesPerRpc.Record(measures.Responses, tags);
        }

        if (measures.Counted)
        {
            ActiveCalls.Add(-1, new KeyValuePair<string, object?>(RpcTelemetry.Method, method));
        }
    }
}

/// <summary>What one call measures about itself; a field of the call, so nothing is allocated for it.</summary>
internal struct CallMeasures
{
    public Activity? Activity;
    public long StartTimestamp;
    public bool Logged;
    public bool Metered;
    public bool Counted;
    public bool MessagesUncounted;
    public long Requests;
    public long RequestBytes;
    public long Responses;
    public long ResponseBytes;

    public void Sent(bool request, int bytes)
    {
        if (request)
        {
            Requests++;
            RequestBytes += bytes;
        }
        else
        {
            Responses++;
            ResponseBytes += bytes;
        }
    }
}
