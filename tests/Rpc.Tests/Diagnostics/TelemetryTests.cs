using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Diagnostics;
using Xunit;

namespace Rpc.Tests.Diagnostics;

/// <summary>Spans and metrics on both sides of a call, one trace across processes (Rpc.Client / Rpc.Server).</summary>
[Collection(RunsAlone.Name)]
public sealed class TelemetryTests
{
    [Fact]
    public async Task UnaryCall_AcrossProcesses_ServerSpanIsTheClientSpansChild()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = ListenTo(RpcTelemetry.ClientName, spans);
        await using var server = await ServerProcess.StartAsync("unix://" + TestPaths.NewSocketPath());
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);

        var call = client.UnaryCallAsync(new SimpleRequest { ResponseSize = 10 });
        await call.ResponseAsync.DefaultTimeout();
        var trailers = call.GetTrailers();

        var clientSpan = Assert.Single(spans, s => s.OperationName == "rpc.testing.TestService/UnaryCall");
        Assert.Equal(ActivityKind.Client, clientSpan.Kind);
        Assert.Equal("grpc", clientSpan.GetTagItem(RpcTelemetry.SystemName));
        Assert.Equal("OK", clientSpan.GetTagItem(RpcTelemetry.ResponseStatusCode));
        Assert.Equal("unix", clientSpan.GetTagItem(RpcTelemetry.NetworkTransport));
        Assert.Equal(clientSpan.TraceId.ToHexString(), trailers.GetValue("x-trace-id"));
        Assert.Equal(clientSpan.SpanId.ToHexString(), trailers.GetValue("x-parent-span-id"));
        Assert.Equal(clientSpan.OperationName, trailers.GetValue("x-span-name"));
    }

    [Fact]
    public async Task FailedCall_ClientSpan_CarriesTheStatusAsError()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = ListenTo(RpcTelemetry.ClientName, spans);
        await using var server = await InProcessServer.StartAsync();
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);

        await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { ResponseStatus = new EchoStatus { Code = (int)StatusCode.NotFound, Message = "nope" } }).ResponseAsync.DefaultTimeout());

        var span = Assert.Single(spans, s => s.OperationName.EndsWith("/UnaryCall", StringComparison.Ordinal) && s.Kind == ActivityKind.Client);
        Assert.Equal("NOT_FOUND", span.GetTagItem(RpcTelemetry.ResponseStatusCode));
        Assert.Equal("NOT_FOUND", span.GetTagItem(RpcTelemetry.ErrorType));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
    }

    [Fact]
    public async Task Calls_BothSides_RecordDurationSizesCountsAndActiveCalls()
    {
        var recorded = new ConcurrentQueue<(string Instrument, double Value, string? Method, string? Status)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name is RpcTelemetry.ClientName or RpcTelemetry.ServerName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => recorded.Enqueue((instrument.Name, value, Tag(tags, RpcTelemetry.Method), Tag(tags, RpcTelemetry.ResponseStatusCode))));
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => recorded.Enqueue((instrument.Name, value, Tag(tags, RpcTelemetry.Method), Tag(tags, RpcTelemetry.ResponseStatusCode))));
        meters.Start();

        await using var server = await InProcessServer.StartAsync();
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);
        await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 1000 }).ResponseAsync.DefaultTimeout();

        const string method = "rpc.testing.TestService/UnaryCall";
        await WaitUntilAsync(() => recorded.Any(r => r.Instrument == RpcTelemetry.ServerCallDuration && r.Method == method));
        Assert.Contains(recorded, r => r.Instrument == RpcTelemetry.ClientCallDuration && r.Method == method && r.Status == "OK" && r.Value > 0);
        Assert.Contains(recorded, r => r.Instrument == RpcTelemetry.ServerCallDuration && r.Method == method && r.Status == "OK");
        Assert.Contains(recorded, r => r.Instrument == RpcTelemetry.ClientResponsesPerRpc && r.Method == method && r.Value == 1);
        Assert.Contains(recorded, r => r.Instrument == RpcTelemetry.ClientResponseSize && r.Method == method && r.Value >= 1000);
        Assert.Contains(recorded, r => r.Instrument == RpcTelemetry.ServerRequestsPerRpc && r.Method == method && r.Value == 1);
        Assert.Contains(recorded, r => r.Instrument == RpcTelemetry.ClientActiveCalls && r.Method == method && r.Value == 1);
        Assert.Contains(recorded, r => r.Instrument == RpcTelemetry.ClientActiveCalls && r.Method == method && r.Value == -1);
    }

    private static ActivityListener ListenTo(string source, ConcurrentQueue<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value?.ToString();
            }
        }

        return null;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Infrastructure.TaskExtensions.DefaultTimeoutSpan;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
    }
}
