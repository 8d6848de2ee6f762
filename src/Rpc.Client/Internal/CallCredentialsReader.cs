using Grpc.Core;

namespace Rpc.Client.Internal;

/// <summary>
/// Runs a <see cref="CallCredentials"/>' interceptors, reading them by visiting as Grpc.Core.Api
/// requires: one interceptor, or a composite whose parts run in order into the same metadata.
/// </summary>
internal sealed class CallCredentialsReader : CallCredentialsConfiguratorBase
{
    private AsyncAuthInterceptor? _interceptor;
    private IReadOnlyList<CallCredentials>? _composite;

    private CallCredentialsReader()
    {
    }

    /// <summary>Adds what <paramref name="credentials"/> produce for this call to <paramref name="metadata"/>.</summary>
    public static async Task AddMetadataAsync(CallCredentials credentials, AuthInterceptorContext context, Metadata metadata)
    {
        var reader = new CallCredentialsReader();
        credentials.InternalPopulateConfiguration(reader, null);
        if (reader._interceptor is { } interceptor)
        {
            await interceptor(context, metadata).ConfigureAwait(false);
        }

        if (reader._composite is { } parts)
        {
            foreach (var part in parts)
            {
                await AddMetadataAsync(part, context, metadata).ConfigureAwait(false);
            }
        }
    }

    public override void SetAsyncAuthInterceptorCredentials(object? state, AsyncAuthInterceptor interceptor) => _interceptor = interceptor;

    public override void SetCompositeCredentials(object? state, IReadOnlyList<CallCredentials> credentials) => _composite = credentials;
}
