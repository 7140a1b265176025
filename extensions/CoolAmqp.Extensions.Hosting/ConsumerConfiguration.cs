using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>Binds each hosted consumer's options from <c>Consumers:&lt;queue&gt;</c> of the hosting section. A
/// post-configuration, so that configuration wins over what the code set, whatever the order of registration.</summary>
internal sealed class ConsumerConfiguration : IPostConfigureOptions<CoolAmqpConsumerOptions>
{
    private readonly IConfiguration _consumers;

    public ConsumerConfiguration(IConfiguration hostingSection)
    {
        _consumers = hostingSection.GetSection("Consumers");
    }

    public void PostConfigure(string? name, CoolAmqpConsumerOptions options)
    {
        if (name is { Length: > 0 })
        {
            _consumers.GetSection(name).Bind(options);
        }
    }
}
