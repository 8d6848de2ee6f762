using Grpc.Net.Client.Configuration;

namespace Rpc.Client;

// Retries: the same settings, names and defaults as grpc-dotnet's GrpcChannelOptions.
public sealed partial class RpcChannelOptions
{
    private int _maxRetryAttempts = 5;
    private long _maxRetryBufferSize = 16 * 1024 * 1024;
    private long _maxRetryBufferPerCallSize = 1024 * 1024;

    /// <summary>
    /// The service config, as grpc-dotnet's <c>GrpcChannelOptions.ServiceConfig</c>: a
    /// <see cref="MethodConfig"/> with a <see cref="RetryPolicy"/> makes the channel retry the
    /// methods it names (an exact method, every method of a service, or <see cref="MethodName.Default"/>)
    /// when an attempt ends with one of its <see cref="RetryPolicy.RetryableStatusCodes"/>. Read when
    /// the channel is created. Hedging and retry throttling are not supported and are refused then,
    /// rather than ignored. See docs/channel.md. Default: none (only unary and server-streaming
    /// calls the server never saw are sent again, once).
    /// </summary>
    public ServiceConfig? ServiceConfig { get; set; }

    /// <summary>
    /// The most attempts a retry policy may ask for; a policy's larger <see cref="RetryPolicy.MaxAttempts"/>
    /// is lowered to this. Default: 5, as grpc-dotnet.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int MaxRetryAttempts
    {
        get => _maxRetryAttempts;
        set => _maxRetryAttempts = Positive(value);
    }

    /// <summary>
    /// The most request bytes the channel keeps, over all its calls, to send again on a retry; a
    /// call whose request does not fit is sent once, not retried. Default: 16 MiB, as grpc-dotnet.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public long MaxRetryBufferSize
    {
        get => _maxRetryBufferSize;
        set => _maxRetryBufferSize = PositiveSize(value);
    }

    /// <summary>
    /// The most request bytes one call keeps to send again on a retry; beyond it the call is sent
    /// once, not retried. Default: 1 MiB, as grpc-dotnet.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public long MaxRetryBufferPerCallSize
    {
        get => _maxRetryBufferPerCallSize;
        set => _maxRetryBufferPerCallSize = PositiveSize(value);
    }

    private static long PositiveSize(long value, [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, name);
        return value;
    }
}
