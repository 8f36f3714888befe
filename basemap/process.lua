-- tilemaker (2.x) tag processing for the gis_app base map: only what the dispatcher's muted map
-- draws (basemap/config.json lists the layers; static/basemap.js styles them).

node_keys = { "place", "addr:housenumber" }

local place_zoom = { city = 6, town = 8, village = 11, hamlet = 12, suburb = 12, locality = 13 }
local road_zoom = {
  motorway = 6, trunk = 6, primary = 8, secondary = 9, tertiary = 10,
  motorway_link = 11, trunk_link = 11, primary_link = 11, secondary_link = 12, tertiary_link = 12,
  unclassified = 12, residential = 12, living_street = 13, service = 13, pedestrian = 13,
  track = 13, road = 13, footway = 14, path = 14, cycleway = 14, steps = 14
}
local landuse_classes = {
  residential = "residential", industrial = "industrial", commercial = "industrial",
  retail = "industrial", forest = "forest", wood = "forest", park = "park", grass = "park",
  meadow = "park", cemetery = "park", farmland = "farmland", allotments = "farmland"
}

function init_function()
end

function exit_function()
end

function node_function(node)
  local place = node:Find("place")
  local name = node:Find("name")
  if place ~= "" and name ~= "" and place_zoom[place] then
    node:Layer("places", false)
    node:Attribute("class", place)
    node:Attribute("name", name)
    node:MinZoom(place_zoom[place])
  end
  local housenumber = node:Find("addr:housenumber")
  if housenumber ~= "" then
    node:Layer("housenumbers", false)
    node:Attribute("housenumber", housenumber)
  end
end

function way_function(way)
  local highway = way:Find("highway")
  local railway = way:Find("railway")
  local waterway = way:Find("waterway")
  local natural = way:Find("natural")
  local landuse = way:Find("landuse")
  local leisure = way:Find("leisure")
  local building = way:Find("building")
  local housenumber = way:Find("addr:housenumber")
  local closed = way:IsClosed()

  if highway ~= "" and road_zoom[highway] and way:Find("area") ~= "yes" then
    way:Layer("roads", false)
    way:Attribute("class", highway)
    local name = way:Find("name")
    if name ~= "" then way:Attribute("name", name) end
    way:MinZoom(road_zoom[highway])
  end
  if railway == "rail" or railway == "light_rail" or railway == "narrow_gauge" then
    way:Layer("rail", false)
    way:MinZoom(8)
  end
  if waterway == "river" or waterway == "canal" or waterway == "stream" then
    way:Layer("waterway", false)
    local name = way:Find("name")
    if name ~= "" then way:Attribute("name", name) end
    if waterway == "stream" then way:MinZoom(12) end
  end
  if closed and (natural == "water" or landuse == "reservoir" or waterway == "riverbank") then
    way:Layer("water", true)
  end
  local class = landuse_classes[landuse] or landuse_classes[natural] or landuse_classes[leisure]
  if closed and class then
    way:Layer("landuse", true)
    way:Attribute("class", class)
  end
  if closed and building ~= "" then
    way:Layer("buildings", true)
  end
  if housenumber ~= "" then
    way:LayerAsCentroid("housenumbers")
    way:Attribute("housenumber", housenumber)
  end
end
