using System;
using System.Net;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Compat;

/// <summary>.NET 6's cancellable <c>Dns.GetHostAddressesAsync</c>: the lookup cannot be cancelled here, the wait can.</summary>
internal static class DnsCompat
{
    extension(Dns)
    {
        public static Task<IPAddress[]> GetHostAddressesAsync(string hostNameOrAddress, CancellationToken cancellationToken) =>
            Dns.GetHostAddressesAsync(hostNameOrAddress).WaitAsync(cancellationToken);
    }
}
