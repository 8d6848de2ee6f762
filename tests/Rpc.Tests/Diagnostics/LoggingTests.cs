using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Rpc.Transports.Diagnostics;
using Xunit;

namespace Rpc.Tests.Diagnostics;

/// <summary>Per-call and per-connection log events, connection gauges, and spans on the HTTP/2 path.</summary>
[Collection(RunsAlone.Name)]
public sealed class LoggingTests
{
    private const string UnaryMethod = "rpc.testing.TestService/UnaryCall";

    [Fact]
    public async Task UnaryCall_DebugLogging_BothSidesLogStartAndEndWithStatus()
    {
        var serverLog = new EventCollector();
        var clientLog = new EventCollector();
        await using var server = await InProcessServer.StartAsync(new RpcServerOptions { LoggerFactory = serverLog.Factory });
        await using (var channel = RpcChannel.ForAddress(server.Address, new RpcChannelOptions { LoggerFactory = clientLog.Factory }))
        {
            var client = new TestService.TestServiceClient(channel);
            await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 10 }).ResponseAsync.DefaultTimeout();
            await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { ResponseStatus = new EchoStatus { Code = (int)StatusCode.NotFound } }).ResponseAsync.DefaultTimeout());
        }

        await WaitUntilAsync(() => serverLog.Events.Count(e => e.Id == 301) == 2 && serverLog.Events.Any(e => e.Id == 2));
        foreach (var log in new[] { clientLog, serverLog })
        {
            Assert.Equal(2, log.Events.Count(e => e.Id == 300 && e.Level == LogLevel.Debug && e.Text.Contains(UnaryMethod, StringComparison.Ordinal) && e.Text.Contains("unix", StringComparison.Ordinal)));
            Assert.Contains(log.Events, e => e.Id == 301 && e.Text.Contains(UnaryMethod, StringComparison.Ordinal) && e.Text.Contains("OK", StringComparison.Ordinal) && e.Text.Contains(" ms", StringComparison.Ordinal));
            Assert.Contains(log.Events, e => e.Id == 301 && e.Text.Contains("NOT_FOUND", StringComparison.Ordinal));
            Assert.Contains(log.Events, e => e.Id == 6 && e.Level == LogLevel.Debug);
            Assert.Contains(log.Events, e => e.Id == 2 && e.Level == LogLevel.Debug);
        }
    }

    [Fact]
    public async Task OversizedRequest_ServerLogsLimitWarning_CallFailsResourceExhausted()
    {
        var serverLog = new EventCollector();
        await using var server = await InProcessServer.StartAsync(new RpcServerOptions { LoggerFactory = serverLog.Factory, MaxReceiveMessageSize = 1024 });
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[4096]) } }).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        await WaitUntilAsync(() => serverLog.Events.Any(e => e.Id == 7));
        var warning = Assert.Single(serverLog.Events, e => e.Id == 7);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("MaxReceiveMessageSize", warning.Text, StringComparison.Ordinal);
        var after = await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 4 }).ResponseAsync.DefaultTimeout();
        Assert.Equal(4, after.Payload.Body.Length);
    }

    [Fact]
    public async Task Connections_BothSides_GaugesRiseWhileOpenAndReturnToZero()
    {
        var sums = new ConcurrentDictionary<string, long>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name is RpcTelemetry.ClientConnections or RpcTelemetry.ServerConnections)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, _, _) => sums.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value));
        meters.Start();

        await using var server = await InProcessServer.StartAsync();
        var channel = RpcChannel.ForAddress(server.Address);
        await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout();
        await WaitUntilAsync(() => sums.GetValueOrDefault(RpcTelemetry.ServerConnections) == 1);

        Assert.Equal(1, sums.GetValueOrDefault(RpcTelemetry.ClientConnections));
        Assert.Equal(1, sums.GetValueOrDefault(RpcTelemetry.ServerConnections));

        await channel.DisposeAsync();
        await WaitUntilAsync(() => sums.GetValueOrDefault(RpcTelemetry.ServerConnections) == 0);
        Assert.Equal(0, sums.GetValueOrDefault(RpcTelemetry.ClientConnections));
        Assert.Equal(0, sums.GetValueOrDefault(RpcTelemetry.ServerConnections));
    }

    [Fact]
    public async Task HttpCall_ServerSpan_IsTheCallersChildWithStatus()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == RpcTelemetry.ServerName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var server = new RpcServer();
        await using var _ = server;
        server.AddService(new ConformanceService()).Listen("http://127.0.0.1:0");
        await server.StartAsync().DefaultTimeout();
        using var channel = GrpcChannel.ForAddress(Assert.Single(server.BoundAddresses));
        var client = new TestService.TestServiceClient(channel);
        var traceId = ActivityTraceId.CreateRandom();
        var parentSpan = ActivitySpanId.CreateRandom();
        var headers = new Metadata { { "traceparent", $"00-{traceId.ToHexString()}-{parentSpan.ToHexString()}-01" } };

        await client.UnaryCallAsync(new SimpleRequest(), headers).ResponseAsync.DefaultTimeout();
        await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { ResponseStatus = new EchoStatus { Code = (int)StatusCode.NotFound } }, headers).ResponseAsync.DefaultTimeout());
        await WaitUntilAsync(() => spans.Count(s => s.OperationName == UnaryMethod) == 2);

        var ok = Assert.Single(spans, s => s.OperationName == UnaryMethod && (string?)s.GetTagItem(RpcTelemetry.ResponseStatusCode) == "OK");
        Assert.Equal(ActivityKind.Server, ok.Kind);
        Assert.Equal(traceId, ok.TraceId);
        Assert.Equal(parentSpan, ok.ParentSpanId);
        Assert.Equal("grpc", ok.GetTagItem(RpcTelemetry.SystemName));
        var failed = Assert.Single(spans, s => s.OperationName == UnaryMethod && (string?)s.GetTagItem(RpcTelemetry.ResponseStatusCode) == "NOT_FOUND");
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Infrastructure.TaskExtensions.DefaultTimeoutSpan;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
    }

    private sealed class EventCollector : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<(int Id, LogLevel Level, string Text)> Events { get; } = new();

        public ILoggerFactory Factory => LoggerFactory.Create(builder => builder.AddProvider(this).SetMinimumLevel(LogLevel.Debug));

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (Events.Count < 10_000)
            {
                Events.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
            }
        }

        public void Dispose()
        {
        }
    }
}
