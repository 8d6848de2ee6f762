using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Rpc.Testing;

namespace Rpc.TestServer;

/// <summary>The conformance tests' service, shaped after gRPC's interop TestService.</summary>
public sealed class ConformanceService : TestService.TestServiceBase
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<string>> _sleepOutcomes = new();

    public override Task<Empty> EmptyCall(Empty request, ServerCallContext context) => Task.FromResult(new Empty());

    public override async Task<SimpleResponse> UnaryCall(SimpleRequest request, ServerCallContext context)
    {
        if (request.EchoMetadata)
        {
            await EchoMetadataAsync(context);
        }

        ThrowIfStatusRequested(request.ResponseStatus);
        return new SimpleResponse
        {
            Payload = request.EchoPayload ? request.Payload : new Payload { Body = ByteString.CopyFrom(new byte[request.ResponseSize]) },
            Peer = context.Peer,
            DeadlineRemainingMs = context.Deadline == DateTime.MaxValue ? -1 : (long)(context.Deadline - DateTime.UtcNow).TotalMilliseconds,
        };
    }

    public override async Task StreamingOutputCall(StreamingOutputCallRequest request, IServerStreamWriter<StreamingOutputCallResponse> responseStream, ServerCallContext context)
    {
        foreach (var parameters in request.ResponseParameters)
        {
            if (parameters.IntervalUs > 0)
            {
                await Task.Delay(TimeSpan.FromMicroseconds(parameters.IntervalUs), context.CancellationToken);
            }

            var body = parameters.FillSeed == 0 ? ByteString.CopyFrom(new byte[parameters.Size]) : PatternFill.Create(parameters.Size, parameters.FillSeed);
            await responseStream.WriteAsync(new StreamingOutputCallResponse { Payload = new Payload { Body = body } });
        }

        ThrowIfStatusRequested(request.ResponseStatus);
    }

    public override async Task<StreamingInputCallResponse> StreamingInputCall(IAsyncStreamReader<StreamingInputCallRequest> requestStream, ServerCallContext context)
    {
        var total = 0;
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            total += requestStream.Current.Payload?.Body.Length ?? 0;
        }

        return new StreamingInputCallResponse { AggregatedPayloadSize = total };
    }

    public override async Task FullDuplexCall(IAsyncStreamReader<StreamingOutputCallRequest> requestStream, IServerStreamWriter<StreamingOutputCallResponse> responseStream, ServerCallContext context)
    {
        await EchoMetadataAsync(context);
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            var request = requestStream.Current;
            ThrowIfStatusRequested(request.ResponseStatus);
            foreach (var parameters in request.ResponseParameters)
            {
                await responseStream.WriteAsync(new StreamingOutputCallResponse { Payload = new Payload { Body = ByteString.CopyFrom(new byte[parameters.Size]) } });
            }
        }
    }

    public override async Task<Empty> Sleep(SleepRequest request, ServerCallContext context)
    {
        var outcome = _sleepOutcomes.GetOrAdd(request.Key, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            // Headers tell the client the server is inside the handler before it cancels or dies.
            await context.WriteResponseHeadersAsync([new Metadata.Entry("sleep-started", request.Key)]);
            await Task.Delay(request.Millis, context.CancellationToken);
            outcome.TrySetResult("completed");
        }
        catch (Exception) when (context.CancellationToken.IsCancellationRequested)
        {
            // Also when the deadline or a cancel came before the headers went out (a slow dispatch).
            outcome.TrySetResult("cancelled");
            throw;
        }

        return new Empty();
    }

    public override async Task<SleepOutcome> GetSleepOutcome(SleepOutcomeRequest request, ServerCallContext context)
    {
        var outcome = _sleepOutcomes.GetOrAdd(request.Key, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            return new SleepOutcome { Outcome = await outcome.Task.WaitAsync(TimeSpan.FromMilliseconds(request.WaitMillis), context.CancellationToken) };
        }
        catch (TimeoutException)
        {
            return new SleepOutcome { Outcome = "unknown" };
        }
    }

    public override Task<Empty> Throw(ThrowRequest request, ServerCallContext context) =>
        throw new InvalidOperationException(request.Message);

    private static async Task EchoMetadataAsync(ServerCallContext context)
    {
        var echoed = new Metadata();
        foreach (var entry in context.RequestHeaders)
        {
            if (entry.Key.StartsWith("x-echo-", StringComparison.Ordinal))
            {
                echoed.Add(entry);
                context.ResponseTrailers.Add(entry);
            }
        }

        await context.WriteResponseHeadersAsync(echoed);
    }

    private static void ThrowIfStatusRequested(EchoStatus? status)
    {
        if (status is { Code: not 0 })
        {
            throw new RpcException(new Status((StatusCode)status.Code, status.Message), [new Metadata.Entry("x-status-trailer", "present")]);
        }
    }
}
