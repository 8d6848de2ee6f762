using Grpc.Core;
using Rpc.Transports;

namespace Rpc.Client.Internal;

/// <summary>
/// Where call credentials may go and what they add to a call's headers. A call runs its own
/// credentials, then the channel's, before its HEADERS are written; the wait is bounded by the
/// call's deadline and token.
/// </summary>
internal static class CallSecurity
{
    /// <summary>
    /// Transports whose bytes never cross a network in clear: TLS, and every same-host transport
    /// (the kernel keeps them on this host, and the server learns the peer's uid from it).
    /// Anything else, <c>tcp://</c> and transports registered by users, counts as plaintext.
    /// </summary>
    private static readonly HashSet<string> SecureSchemes = new(StringComparer.Ordinal) { "tcps", "unix", "pipe", "shm", "mq", "inproc", "child" };

    public static bool IsSecure(TransportAddress address) => SecureSchemes.Contains(address.Scheme);

    /// <summary>
    /// The call credentials composed into the channel's credentials, or null. Throws
    /// <see cref="InvalidOperationException"/> when the channel credentials contradict the address,
    /// as GrpcChannel does for http/https.
    /// </summary>
    public static List<CallCredentials>? ReadChannelCredentials(TransportAddress address, RpcChannelOptions options)
    {
        if (options.Credentials is not { } credentials)
        {
            return null;
        }

        var read = ChannelCredentialsReader.Read(credentials);
        if (read.IsSecure && address.Scheme == "tcp")
        {
            throw new InvalidOperationException($"Channel is configured with secure channel credentials and can't use the plaintext address '{address}': use tcps://, or ChannelCredentials.Insecure.");
        }

        if (!read.IsSecure && address.Scheme == "tcps")
        {
            throw new InvalidOperationException($"Channel is configured with insecure channel credentials and can't use the TLS address '{address}'.");
        }

        return read.CallCredentials;
    }

    /// <summary>
    /// <paramref name="headers"/> plus the metadata of the call's credentials, then the channel's.
    /// An interceptor that throws fails the call (Internal, or its own status if it throws an
    /// <see cref="RpcException"/>), as grpc-dotnet; one that outlives <paramref name="callToken"/>
    /// (deadline, cancellation, dispose) is left behind and the call ends with that status.
    /// </summary>
    public static async Task<Metadata> AddCredentialsAsync(
        TransportAddress address, RpcChannelOptions options, IMethod method, CallCredentials? callCredentials, List<CallCredentials>? channelCredentials, Metadata? headers, CancellationToken callToken)
    {
        if (!IsSecure(address) && !options.UnsafeUseInsecureChannelCallCredentials)
        {
            // gRPC's own wording (its client auth filter refuses the same way, Unavailable): the
            // secret is not even asked for.
            throw new RpcException(new Status(StatusCode.Unavailable,
                $"Established channel does not have a sufficient security level to transfer call credential: '{address}' is plaintext. " +
                "Use tcps://, or set RpcChannelOptions.UnsafeUseInsecureChannelCallCredentials."));
        }

        var added = new Metadata();
        var context = new AuthInterceptorContext($"{address}/{method.ServiceName}", method.Name, callToken);
        try
        {
            if (callCredentials is not null)
            {
                await CallCredentialsReader.AddMetadataAsync(callCredentials, context, added).WaitAsync(callToken).ConfigureAwait(false);
            }

            if (channelCredentials is not null)
            {
                foreach (var credentials in channelCredentials)
                {
                    await CallCredentialsReader.AddMetadataAsync(credentials, context, added).WaitAsync(callToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is not RpcException && !callToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"Error starting gRPC call. {ex.GetType().Name}: {ex.Message}", ex));
        }

        var combined = new Metadata();
        if (headers is not null)
        {
            foreach (var entry in headers)
            {
                combined.Add(entry);
            }
        }

        foreach (var entry in added)
        {
            combined.Add(entry);
        }

        return combined;
    }
}
