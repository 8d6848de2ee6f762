using Grpc.Core;
using Rpc.Testing;

namespace Rpc.Tests.Client;

/// <summary>
/// The test service with methods that fail on purpose: UnaryCall and the streaming calls end with
/// <see cref="FailWith"/> for their first <see cref="Failures"/> attempts, then succeed. It records
/// each attempt's <c>grpc-previous-rpc-attempts</c> header. Handlers run on the server's threads
/// while the test reads; every field is read and written atomically or under the list's lock.
/// </summary>
internal sealed class FlakyService : TestService.TestServiceBase
{
    private readonly List<string?> _previousAttempts = [];
    private int _attempts;
    private int _emptyCalls;

    public int Failures { get; init; }

    public Status FailWith { get; init; } = new(StatusCode.Unavailable, "Not yet.");

    /// <summary>Trailers the failures carry (a pushback, say).</summary>
    public Metadata FailureTrailers { get; init; } = [];

    public int Attempts => Volatile.Read(ref _attempts);

    public int EmptyCalls => Volatile.Read(ref _emptyCalls);

    /// <summary>The <c>grpc-previous-rpc-attempts</c> header of each attempt, in order (null: absent).</summary>
    public IReadOnlyList<string?> PreviousAttempts
    {
        get
        {
            lock (_previousAttempts)
            {
                return [.. _previousAttempts];
            }
        }
    }

    public override Task<SimpleResponse> UnaryCall(SimpleRequest request, ServerCallContext context)
    {
        FailIfDue(context);
        return Task.FromResult(new SimpleResponse { Payload = new Payload { Body = Google.Protobuf.ByteString.CopyFrom(new byte[request.ResponseSize]) } });
    }

    public override async Task StreamingOutputCall(StreamingOutputCallRequest request, IServerStreamWriter<StreamingOutputCallResponse> responseStream, ServerCallContext context)
    {
        FailIfDue(context);
        foreach (var parameters in request.ResponseParameters)
        {
            await responseStream.WriteAsync(new StreamingOutputCallResponse { Payload = new Payload { Body = Google.Protobuf.ByteString.CopyFrom(new byte[parameters.Size]) } });
        }
    }

    /// <summary>StreamingInputCall fails only once it has read the whole request stream, not at once.</summary>
    public bool FailAfterReading { get; init; }

    public override async Task<StreamingInputCallResponse> StreamingInputCall(IAsyncStreamReader<StreamingInputCallRequest> requestStream, ServerCallContext context)
    {
        if (!FailAfterReading)
        {
            FailIfDue(context);
        }

        var total = 0;
        await foreach (var request in requestStream.ReadAllAsync())
        {
            total += request.Payload.Body.Length;
        }

        if (FailAfterReading)
        {
            FailIfDue(context);
        }

        return new StreamingInputCallResponse { AggregatedPayloadSize = total };
    }

    public override async Task FullDuplexCall(IAsyncStreamReader<StreamingOutputCallRequest> requestStream, IServerStreamWriter<StreamingOutputCallResponse> responseStream, ServerCallContext context)
    {
        FailIfDue(context);
        await foreach (var request in requestStream.ReadAllAsync())
        {
            foreach (var parameters in request.ResponseParameters)
            {
                await responseStream.WriteAsync(new StreamingOutputCallResponse { Payload = new Payload { Body = Google.Protobuf.ByteString.CopyFrom(new byte[parameters.Size]) } });
            }
        }
    }

    /// <summary>Never fails: for a method the policy does not name.</summary>
    public override Task<Empty> EmptyCall(Empty request, ServerCallContext context)
    {
        Interlocked.Increment(ref _emptyCalls);
        FailIfDue(context);
        return Task.FromResult(new Empty());
    }

    private void FailIfDue(ServerCallContext context)
    {
        var attempt = Interlocked.Increment(ref _attempts);
        lock (_previousAttempts)
        {
            _previousAttempts.Add(context.RequestHeaders.GetValue("grpc-previous-rpc-attempts"));
        }

        if (attempt <= Failures)
        {
            foreach (var trailer in FailureTrailers)
            {
                context.ResponseTrailers.Add(trailer);
            }

            throw new RpcException(FailWith);
        }
    }
}
