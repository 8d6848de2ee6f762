using Rpc.Transports;

namespace Rpc.Client.Http;

/// <summary>
/// Sits in front of the channel's HTTP handler and hands each response's
/// <see cref="LocalEndpoints.HeaderName"/> header to the same-host upgrade. It runs on whatever
/// thread completes the response, so it only passes the value on; the upgrade decides and
/// connects elsewhere.
/// </summary>
internal sealed class AdvertisementHandler : DelegatingHandler
{
    private readonly SameHostUpgrade _upgrade;

    public AdvertisementHandler(SameHostUpgrade upgrade, HttpMessageHandler inner)
        : base(inner) => _upgrade = upgrade;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (_upgrade.WantsAdvertisement
            && response.Headers.TryGetValues(LocalEndpoints.HeaderName, out var values))
        {
            // HttpHeaders may hand a comma-separated value back in pieces; the list of endpoints is one.
            _upgrade.OnAdvertisement(string.Join(',', values));
        }

        return response;
    }
}
