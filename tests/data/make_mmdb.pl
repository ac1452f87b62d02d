#!/usr/bin/perl
# tests/data/make_mmdb.pl OUT_DIR — writes two small MaxMind databases for
# the tests, with Debian's libmaxmind-db-writer-perl: a GeoLite2-City-like
# one (country, city, location) and a GeoLite2-ASN-like one.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $dir = shift or die "usage: make_mmdb.pl OUT_DIR\n";

my %city_types = (
    country => 'map', iso_code => 'utf8_string', city => 'map', names => 'map', en => 'utf8_string',
    location => 'map', latitude => 'double', longitude => 'double',
);
my $city = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 24, database_type => 'GeoLite2-City', languages => ['en'],
    remove_reserved_networks => 0,   # the tests use the documentation ranges
    description => { en => 'riskd test city database' }, map_key_type_callback => sub { $city_types{ $_[0] } },
);
my %places = (
    '198.51.100.0/24' => ['AU', 'Sydney', -33.8688, 151.2093],
    '203.0.113.0/24'  => ['FR', 'Paris', 48.8566, 2.3522],
    '2001:db8::/32'   => ['JP', 'Tokyo', 35.6762, 139.6503],
);
for my $net (sort keys %places) {
    my ($cc, $name, $lat, $lon) = @{ $places{$net} };
    $city->insert_network($net, { country => { iso_code => $cc }, city => { names => { en => $name } },
                                  location => { latitude => $lat, longitude => $lon } });
}
open my $fh, '>:raw', "$dir/city.mmdb" or die $!;
$city->write_tree($fh);
close $fh;

my %asn_types = (autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string');
my $asn = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 24, database_type => 'GeoLite2-ASN', languages => ['en'],
    remove_reserved_networks => 0,
    description => { en => 'riskd test ASN database' }, map_key_type_callback => sub { $asn_types{ $_[0] } },
);
$asn->insert_network('198.51.100.0/24', { autonomous_system_number => 64500, autonomous_system_organization => 'Example Hosting' });
$asn->insert_network('203.0.113.0/24', { autonomous_system_number => 64501, autonomous_system_organization => 'Example Telecom' });
open $fh, '>:raw', "$dir/asn.mmdb" or die $!;
$asn->write_tree($fh);
close $fh;
