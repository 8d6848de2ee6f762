using Grpc.Core;
using Rpc.Transports.Messages;
using Rpc.Transports.Protocol;

namespace Rpc.Server.Internal;

/// <summary>A call of one method: reads its requests, runs its handler, writes its responses.</summary>
internal sealed class ServerCall<TRequest, TResponse> : ServerCall, IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>
    where TRequest : class
    where TResponse : class
{
    private static readonly Task<bool> s_true = Task.FromResult(true);
    private static readonly Task<bool> s_false = Task.FromResult(false);

    private readonly ServerMethod<TRequest, TResponse> _method;
    private int _writePending;

    public ServerCall(ServerMethod<TRequest, TResponse> method, ServerCallEnvironment environment, CallStream stream, CallStart start)
        : base(environment, stream, start)
    {
        _method = method;
    }

    public TRequest Current { get; private set; } = null!;

    public WriteOptions? WriteOptions
    {
        get => Context.WriteOptions;
        set => Context.WriteOptions = value;
    }

    protected override async Task RunHandlerAsync()
    {
        if (_method.Unary is { } unary)
        {
            await CompleteWithResponseAsync(await unary(await ReadSingleRequestAsync().ConfigureAwait(false), Context).ConfigureAwait(false)).ConfigureAwait(false);
        }
        else if (_method.ClientStreaming is { } clientStreaming)
        {
            await CompleteWithResponseAsync(await clientStreaming(this, Context).ConfigureAwait(false)).ConfigureAwait(false);
        }
        else if (_method.ServerStreaming is { } serverStreaming)
        {
            await serverStreaming(await ReadSingleRequestAsync().ConfigureAwait(false), this, Context).ConfigureAwait(false);
            await TryCompleteAsync(new OutgoingFrames { TrailersStatus = Context.Status, Trailers = Context.ResponseTrailersIfAny }).ConfigureAwait(false);
        }
        else if (_method.Duplex is { } duplex)
        {
            await duplex(this, this, Context).ConfigureAwait(false);
            await TryCompleteAsync(new OutgoingFrames { TrailersStatus = Context.Status, Trailers = Context.ResponseTrailersIfAny }).ConfigureAwait(false);
        }
        else
        {
            await TryCompleteAsync(new OutgoingFrames { TrailersStatus = new Status(StatusCode.Unimplemented, "Method is unimplemented.") }).ConfigureAwait(false);
        }
    }

    // Reads need no token: a cancelled or failed call resets its stream, which ends any pending read.
    private async ValueTask<TRequest> ReadSingleRequestAsync()
    {
        var message = await Stream.ReadMessageAsync(CancellationToken.None).ConfigureAwait(false);
        if (message is { } received)
        {
            CountMessage(request: true, received.Length);
        }

        return message is { } request
            ? MessageDeserializer.Deserialize(_method.Method.RequestMarshaller, Decompress(request))
            : throw new RpcException(new Status(StatusCode.Internal, "The client sent no request message."));
    }

    private async Task CompleteWithResponseAsync(TResponse response)
    {
        var frames = new OutgoingFrames { TrailersStatus = Context.Status, Trailers = Context.ResponseTrailersIfAny };
        SerializedMessage serialized = default;
        try
        {
            if (Context.Status.StatusCode == StatusCode.OK)
            {
                serialized = MessageSerializer.Serialize(_method.Method.ResponseMarshaller, response, Environment.Options.MaxSendMessageSize, "server", "RpcServerOptions.MaxSendMessageSize", Stream.OutgoingRegions);
                CountMessage(request: false, serialized.Payload.Length);
                serialized = CompressResponse(serialized, out frames.MessageCompressed);
                frames.Message = serialized.Payload;
                frames.HasMessage = true;
            }

            await TryCompleteAsync(frames).ConfigureAwait(false);
        }
        finally
        {
            serialized.Release();
        }
    }

    public Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        // A request already queued, the common case while a stream flows, costs no state machine.
        // The read is consumed once: by its result when it completed here, else by the one await
        // below (a pooled read's result may not be taken twice).
#pragma warning disable CA2012
        var reading = Stream.ReadMessageAsync(cancellationToken);
        if (!reading.IsCompletedSuccessfully)
        {
            return MoveNextAsync(reading);
        }
#pragma warning restore CA2012

        if (reading.Result is not { } message)
        {
            return s_false;
        }

        try
        {
            TakeRequest(message);
            return s_true;
        }
        catch (Exception ex)
        {
            return Task.FromException<bool>(ex);
        }
    }

    private async Task<bool> MoveNextAsync(ValueTask<IncomingMessage?> reading)
    {
        try
        {
            if (await reading.ConfigureAwait(false) is { } message)
            {
                TakeRequest(message);
                return true;
            }

            return false;
        }
        catch (StreamResetException ex)
        {
            throw new RpcException(ex.Status);
        }
    }

    private void TakeRequest(IncomingMessage message)
    {
        CountMessage(request: true, message.Length);
        Current = MessageDeserializer.Deserialize(_method.Method.RequestMarshaller, Decompress(message));
    }

    public Task WriteAsync(TResponse message) => WriteAsync(message, CancellationToken.None);

    public async Task WriteAsync(TResponse message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Interlocked.Exchange(ref _writePending, 1) == 1)
        {
            throw new InvalidOperationException("Can't write the message because the previous write is in progress.");
        }

        SerializedMessage serialized = default;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            serialized = MessageSerializer.Serialize(_method.Method.ResponseMarshaller, message, Environment.Options.MaxSendMessageSize, "server", "RpcServerOptions.MaxSendMessageSize", Stream.OutgoingRegions);
            CountMessage(request: false, serialized.Payload.Length);
            serialized = CompressResponse(serialized, out var compressed);
            await SendMessageAsync(serialized.Payload, compressed).ConfigureAwait(false);
        }
        finally
        {
            serialized.Release();
            Volatile.Write(ref _writePending, 0);
        }
    }
}
