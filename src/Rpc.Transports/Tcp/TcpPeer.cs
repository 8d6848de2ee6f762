using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Rpc.Transports.Tcp;

/// <summary>Names a TCP peer as gRPC's <c>Peer</c> does: <c>ipv4:127.0.0.1:5000</c>, <c>ipv6:[::1]:5000</c>.</summary>
internal static class TcpPeer
{
    public static string Describe(EndPoint? endPoint) => endPoint switch
    {
        // A dual-mode socket reports IPv4 peers as IPv4-mapped IPv6 addresses; they are IPv4 peers.
        IPEndPoint { Address.IsIPv4MappedToIPv6: true } mapped => Describe(new IPEndPoint(mapped.Address.MapToIPv4(), mapped.Port)),
        IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } v6 => string.Create(CultureInfo.InvariantCulture, $"ipv6:[{v6.Address}]:{v6.Port}"),
        IPEndPoint v4 => string.Create(CultureInfo.InvariantCulture, $"ipv4:{v4.Address}:{v4.Port}"),
        null => "tcp:unknown",
        _ => "tcp:" + endPoint,
    };
}
